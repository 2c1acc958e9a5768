//! The write path of the database layer on real SQLite and real PostgreSQL: many writers
//! at once (SQLite's group commit), each one's work visible once its commit returned, and
//! a writer that rolls back, fails or is dropped halfway losing only its own work.

use std::time::Duration;

use switchboard::store::{Db, Options, query, query_scalar, varying};

use crate::world::{Backend, test_db};

async fn rows(db: &Db) -> Vec<String> {
    query_scalar("SELECT name FROM topology_probe ORDER BY name").fetch_all(db).await.unwrap()
}

async fn setup(b: Backend) -> (Db, crate::world::TestDb) {
    let t = test_db(b).await;
    let db = Db::connect(&t.url).await.unwrap();
    let mut tx = db.write().await.unwrap();
    query("CREATE TABLE topology_probe (name TEXT PRIMARY KEY)").execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    (db, t)
}

/// 200 writers at once, a quarter of which roll back, one of which hits a unique
/// violation and one of which is dropped halfway: every committed row is visible to
/// other connections as soon as its commit returned, nothing else is.
async fn concurrent_writers_keep_exactly_their_own_work(b: Backend) {
    let (db, _t) = setup(b).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("w{i:03}");
            let mut tx = db.write().await.unwrap();
            query("INSERT INTO topology_probe (name) VALUES ($1)").bind(&name).execute(&mut tx).await.unwrap();
            tokio::task::yield_now().await;
            if i % 4 == 3 {
                tx.rollback().await.unwrap();
                return None;
            }
            if i == 50 {
                // A second row that collides with its own first: the statement fails, the
                // writer rolls back, the group goes on.
                let e = query("INSERT INTO topology_probe (name) VALUES ($1)")
                    .bind(&name)
                    .execute(&mut tx)
                    .await
                    .unwrap_err();
                assert!(switchboard::store::is_unique_violation(&e), "{e}");
                tx.rollback().await.unwrap();
                return None;
            }
            if i == 90 {
                drop(tx); // abandoned: its row must go
                return None;
            }
            tx.commit().await.unwrap();
            // Visible to everyone else at once.
            let seen: Option<String> = query_scalar("SELECT name FROM topology_probe WHERE name = $1")
                .bind(&name)
                .fetch_optional(&db)
                .await
                .unwrap();
            assert_eq!(seen.as_deref(), Some(name.as_str()), "committed but not visible");
            Some(name)
        }));
    }
    let mut kept: Vec<String> = Vec::new();
    for t in tasks {
        kept.extend(t.await.unwrap());
    }
    kept.sort();
    assert_eq!(kept.len(), 200 - 50 - 2);
    // The abandoned writer's rollback runs right after it; give it the moment it needs.
    for _ in 0..100 {
        if rows(&db).await == kept {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rows(&db).await, kept);
    // And the writer is in a clean state for whoever comes next.
    let mut tx = db.write().await.unwrap();
    query("INSERT INTO topology_probe (name) VALUES ('last')").execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rows(&db).await.len(), kept.len() + 1);
}
on_both!(concurrent_writers_keep_exactly_their_own_work);

/// A lone writer dropped without commit or rollback leaves nothing and does not keep the
/// database locked: another connection can write right after.
async fn an_abandoned_writer_releases_the_database(b: Backend) {
    let (db, t) = setup(b).await;
    {
        let mut tx = db.write().await.unwrap();
        query("INSERT INTO topology_probe (name) VALUES ('gone')").execute(&mut tx).await.unwrap();
    }
    // Another process's writer (a second pool on the same database) gets through.
    let other = Db::connect(&t.url).await.unwrap();
    let write = async {
        let mut tx = other.write().await.unwrap();
        query("INSERT INTO topology_probe (name) VALUES ('next')").execute(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
    };
    tokio::time::timeout(Duration::from_secs(5), write).await.expect("the database stayed locked");
    assert_eq!(rows(&db).await, ["next"]);
}
on_both!(an_abandoned_writer_releases_the_database);

/// SQLite: what the writer appends to the WAL is copied back into the database file beside
/// it, not by a commit that stalls every writer queued behind it.
#[tokio::test]
async fn sqlite_checkpoints_run_beside_the_writer() {
    let (db, t) = setup(Backend::Sqlite).await;
    let mut tx = db.write().await.unwrap();
    query("CREATE TABLE bulk (n BIGINT PRIMARY KEY, body TEXT)").execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    // ~24 MB, ~6,000 pages: past the checkpointer's threshold, far below the writer's own.
    let body = "x".repeat(40_000);
    for n in 0..600i64 {
        let mut tx = db.write().await.unwrap();
        query("INSERT INTO bulk (n, body) VALUES ($1, $2)").bind(n).bind(&body).execute(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    let other = Db::connect(&t.url).await.unwrap();
    let wal = || async {
        let row = query("PRAGMA wal_checkpoint(NOOP)").fetch_one(&other).await.unwrap();
        (row.try_get::<i64>(1).unwrap(), row.try_get::<i64>(2).unwrap())
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (log, done) = wal().await;
        if done == log {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "after 10 s only {done} of {log} WAL pages were copied back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let n: i64 = query_scalar("SELECT COUNT(*) FROM bulk").fetch_one(&db).await.unwrap();
    assert_eq!(n, 600);
}

/// SQLite: the writer's stamp stays while only this process's writer changes the
/// database and its transactions commit; another connection's commit or a shared
/// transaction rolled back as a whole changes it. PostgreSQL has none.
#[tokio::test]
async fn the_stamp_says_when_a_copy_of_the_database_is_stale() {
    let (db, t) = setup(Backend::Sqlite).await;
    let stamp = || async {
        let mut tx = db.write().await.unwrap();
        let s = tx.stamp().await.unwrap().expect("SQLite has a stamp");
        tx.commit().await.unwrap();
        s
    };
    let first = stamp().await;
    let mut tx = db.write().await.unwrap();
    query("INSERT INTO topology_probe (name) VALUES ('mine')").execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stamp().await, first, "its own commits leave the stamp alone");
    // A writer alone in its transaction rolls back: the whole transaction is undone.
    let tx = db.write().await.unwrap();
    tx.rollback().await.unwrap();
    let second = stamp().await;
    assert_ne!(second, first, "a transaction rolled back as a whole");
    let other = Db::connect(&t.url).await.unwrap();
    query("INSERT INTO topology_probe (name) VALUES ('theirs')").execute(&other).await.unwrap();
    assert_ne!(stamp().await, second, "another connection committed");

    let pg = test_db(Backend::Postgres).await;
    let pg = Db::connect(&pg.url).await.unwrap();
    let mut tx = pg.write().await.unwrap();
    assert_eq!(tx.stamp().await.unwrap(), None);
    tx.rollback().await.unwrap();
}

/// A list parameter finds exactly its elements, whatever characters they hold.
async fn list_parameters_match_exactly(b: Backend) {
    let (db, _t) = setup(b).await;
    let names = ["plain", "with \"quotes\"", "back\\slash", "comma,brace{}", "ünï"];
    let sql = format!(
        "SELECT value FROM (SELECT $1 AS value UNION ALL SELECT $2 UNION ALL SELECT $3 UNION ALL SELECT $4 \
         UNION ALL SELECT $5 UNION ALL SELECT 'other') AS t WHERE {}",
        switchboard::store::in_list(db.dialect, "value", 6)
    );
    let mut q = varying(sql);
    for n in names {
        q = q.bind(n);
    }
    let rows = q.bind(switchboard::store::list_param(db.dialect, &names)).fetch_all(&db).await.unwrap();
    let mut got: Vec<String> = rows.iter().map(|r| r.try_get("value").unwrap()).collect();
    got.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
}
on_both!(list_parameters_match_exactly);

/// SQLite: a request that finds only the order worker's writers queued behind it commits
/// at once; it does not wait while they run in its shared transaction (milliseconds each).
/// The worker's writer here commits only after the request's commit returned, so a request
/// that waited for it would never return.
#[tokio::test]
async fn sqlite_requests_do_not_wait_for_the_worker_queued_behind_them() {
    let (db, _t) = setup(Backend::Sqlite).await;
    let mut request = db.write().await.unwrap();
    query("INSERT INTO topology_probe (name) VALUES ('request')").execute(&mut request).await.unwrap();
    let (go, went) = tokio::sync::oneshot::channel::<()>();
    let worker = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.write_background().await.unwrap();
            query("INSERT INTO topology_probe (name) VALUES ('worker')").execute(&mut tx).await.unwrap();
            went.await.unwrap();
            tx.commit().await.unwrap();
        })
    };
    for _ in 0..5000 {
        if db.writers_queued() == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(db.writers_queued(), Some(1), "the worker's writer never queued");
    tokio::time::timeout(Duration::from_secs(10), request.commit())
        .await
        .expect("the request's commit waited for the worker's writer behind it")
        .unwrap();
    assert_eq!(rows(&db).await, ["request"], "committed alone, before the worker ran");
    go.send(()).unwrap();
    worker.await.unwrap();
    assert_eq!(rows(&db).await, ["request", "worker"]);
}

/// A transaction's audit records are queued and written at its commit, each as it was
/// recorded (text that needs quoting in JSON and SQL included); a transaction rolled back
/// or dropped writes none.
async fn audit_records_are_written_at_commit_and_only_then(b: Backend) {
    use switchboard::model::actor::{Actor, UserRole};
    use switchboard::store::audit;

    let (db, _t) = setup(b).await;
    let actor = Actor {
        user_id: "usr_1".into(),
        email: "a@example.net".into(),
        org_id: "org_1".into(),
        role: UserRole::Admin,
        source: "192.0.2.7".into(),
    };
    let odd = "it's \"quoted\", \\ and ünïcode $sb$ $sb1$'); COMMIT; $sb";
    let mut tx = db.write().await.unwrap();
    audit::record(&mut tx, 1000, &actor, "channel.create", "ch_1", serde_json::json!({"name": odd})).await.unwrap();
    audit::record(&mut tx, 1001, &Actor::system("cli"), "order.create", "ord_1", serde_json::json!({})).await.unwrap();
    audit::record(&mut tx, 1002, &actor, "channel.terminate", odd, serde_json::json!({"n": 5})).await.unwrap();
    // Nothing is written before the commit.
    let seen: i64 = query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&db).await.unwrap();
    assert_eq!(seen, 0);
    tx.commit().await.unwrap();
    let mut rolled = db.write().await.unwrap();
    audit::record(&mut rolled, 2000, &actor, "channel.create", "ch_2", serde_json::json!({})).await.unwrap();
    rolled.rollback().await.unwrap();
    let mut dropped = db.write().await.unwrap();
    audit::record(&mut dropped, 3000, &actor, "channel.create", "ch_3", serde_json::json!({})).await.unwrap();
    drop(dropped);

    let log = audit::list(&db, None, None, None).await.unwrap();
    let got: Vec<String> = log
        .iter()
        .map(|e| format!("{} {} {:?} {} {} {} {}", e.at, e.actor, e.org_id, e.source, e.action, e.object, e.detail))
        .collect();
    let system = Actor::system("cli");
    let odd_detail = serde_json::json!({"name": odd}).to_string();
    let odd_object = odd;
    assert_eq!(
        got,
        vec![
            format!("1000 usr_1 Some(\"org_1\") 192.0.2.7 channel.create ch_1 {odd_detail}"),
            format!("1001 {} {:?} cli order.create ord_1 {{}}", system.user_id, Some(&system.org_id)),
            format!("1002 usr_1 Some(\"org_1\") 192.0.2.7 channel.terminate {odd_object} {{\"n\":5}}"),
        ]
    );
}
on_both!(audit_records_are_written_at_commit_and_only_then);

/// A transaction dropped open lets its locks go at once: another process's writer of the
/// same key (which waits on the dropped one's row until it ends) gets through.
async fn a_dropped_transaction_lets_its_locks_go(b: Backend) {
    let (db, t) = setup(b).await;
    let other = Db::connect(&t.url).await.unwrap();
    for round in 0..3 {
        let key = format!("k{round}");
        {
            let mut tx = db.write().await.unwrap();
            query("INSERT INTO topology_probe (name) VALUES ($1)").bind(&key).execute(&mut tx).await.unwrap();
        }
        let write = async {
            let mut tx = other.write().await.unwrap();
            query("INSERT INTO topology_probe (name) VALUES ($1)").bind(&key).execute(&mut tx).await.unwrap();
            tx.commit().await.unwrap();
        };
        tokio::time::timeout(Duration::from_secs(10), write)
            .await
            .unwrap_or_else(|_| panic!("round {round}: the dropped transaction still held its row after 10 s"));
    }
    assert_eq!(rows(&db).await, ["k0", "k1", "k2"]);
}
on_both!(a_dropped_transaction_lets_its_locks_go);

async fn backend_pid(db: &Db) -> i64 {
    query_scalar::<i64>("SELECT CAST(pg_backend_pid() AS BIGINT)").fetch_one(db).await.unwrap()
}

/// PostgreSQL: a statement cut off halfway (its future dropped) does not leave its
/// connection to the next statement, which would wait behind the first's answer or read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_cut_off_statement_does_not_hand_its_connection_on() {
    let t = test_db(Backend::Postgres).await;
    let db = Db::open(&t.url, Options { max_connections: 1, migrate: true }).await.unwrap();
    let first = backend_pid(&db).await;
    assert_eq!(backend_pid(&db).await, first, "an idle connection is kept for the next statement");
    let sleep = query("SELECT pg_sleep(30)").execute(&db);
    assert!(tokio::time::timeout(Duration::from_millis(300), sleep).await.is_err());
    let next = tokio::time::timeout(Duration::from_secs(10), backend_pid(&db))
        .await
        .expect("the next statement waited behind the cut-off one");
    assert_ne!(next, first, "the cut-off statement's connection was handed on");
}

/// PostgreSQL: connections the server ended while they were idle (a restart, an
/// administrator) are not handed to the next transaction, which begins on a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_connection_the_server_ended_is_replaced() {
    let (db, t) = setup(Backend::Postgres).await;
    let admin = Db::connect(&t.url).await.unwrap();
    // Two connections kept idle.
    let (a, b) = {
        let pid = "SELECT CAST(pg_backend_pid() AS BIGINT)";
        let mut one = db.write().await.unwrap();
        let mut two = db.read().await.unwrap();
        let a: i64 = query_scalar(pid).fetch_one(&mut one).await.unwrap();
        let b: i64 = query_scalar(pid).fetch_one(&mut two).await.unwrap();
        two.commit().await.unwrap();
        one.commit().await.unwrap();
        (a, b)
    };
    assert_ne!(a, b);
    for pid in [a, b] {
        let ended: bool =
            query_scalar("SELECT pg_terminate_backend(CAST($1 AS INTEGER))").bind(pid).fetch_one(&admin).await.unwrap();
        assert!(ended);
    }
    for _ in 0..100 {
        let left: i64 = query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE pid IN ($1, $2)")
            .bind(a)
            .bind(b)
            .fetch_one(&admin)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut tx = db.write().await.expect("a transaction begins on a new connection");
    query("INSERT INTO topology_probe (name) VALUES ('after')").execute(&mut tx).await.unwrap();
    let pid: i64 = query_scalar("SELECT CAST(pg_backend_pid() AS BIGINT)").fetch_one(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(pid != a && pid != b);
    assert_eq!(rows(&db).await, ["after"]);
    // Neither ended connection is kept idle: two taken at once are both live ones.
    let pid = "SELECT CAST(pg_backend_pid() AS BIGINT)";
    let mut one = db.read().await.unwrap();
    let mut two = db.read().await.unwrap();
    for tx in [&mut one, &mut two] {
        let p: i64 = query_scalar(pid).fetch_one(tx).await.expect("a connection the server ended was kept");
        assert!(p != a && p != b);
    }
}

/// PostgreSQL: a dollar-quoted constant reads back as exactly its text, whatever tags the
/// text holds (the audit records go in one with the COMMIT this way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dollar_quoted_text_reads_back_as_it_is() {
    let t = test_db(Backend::Postgres).await;
    let db = Db::connect(&t.url).await.unwrap();
    for text in ["", "$", "$$", "$sb", "$sb$", "x$sb", "$sb$sb$", "$sb1$ $sb$ $sb2", "it's \\ \"q\" ; COMMIT", "ünï$sb"]
    {
        let sql = format!("SELECT CAST({} AS TEXT)", switchboard::store::dollar_quoted(text));
        let row = varying(sql.clone()).fetch_one(&db).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let back: String = row.try_get(0).unwrap();
        assert_eq!(back, text, "{sql}");
    }
}

/// The plan PostgreSQL uses now for a statement prepared as `by_names`, one line.
async fn plan_of_by_names(db: &Db, keys: &str) -> String {
    let lines: Vec<String> = query_scalar(format!("EXPLAIN EXECUTE by_names('{keys}')")).fetch_all(db).await.unwrap();
    lines.join(" / ")
}

/// PostgreSQL: a table that doubled since it was last analyzed is analyzed again, and the
/// plans connections keep for it are made anew. A lookup of a few rows by key, planned
/// while the table was small, reads the table whole; it keeps doing so as the table grows
/// a thousandfold, until the table is analyzed, and then seeks the keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tables_that_doubled_are_analyzed_and_kept_plans_made_anew() {
    let (_setup, t) = setup(Backend::Postgres).await;
    // One connection, so the statement prepared is where the lookups run.
    let db = Db::open(&t.url, Options { max_connections: 1, migrate: false }).await.unwrap();
    // Autovacuum is kept off this table so that only the store analyzes it, which it did
    // once while the table was small, as autovacuum does a young table.
    query("ALTER TABLE topology_probe SET (autovacuum_enabled = false)").execute(&db).await.unwrap();
    query("INSERT INTO topology_probe (name) SELECT 'k' || g FROM generate_series(1, 20) AS g")
        .execute(&db)
        .await
        .unwrap();
    query("ANALYZE topology_probe").execute(&db).await.unwrap();
    assert_eq!(db.analyze_grown().await.unwrap(), Vec::<String>::new(), "a small table is left to autovacuum");
    query("PREPARE by_names(TEXT[]) AS SELECT name FROM topology_probe WHERE name = ANY($1)")
        .execute(&db)
        .await
        .unwrap();
    let keys = "{k1,k2,k3,k4,k5,k6,k7,k8,k9,k10}";
    for _ in 0..6 {
        query(format!("EXECUTE by_names('{keys}')")).execute(&db).await.unwrap();
    }
    let young = plan_of_by_names(&db, keys).await;
    assert!(young.contains("Seq Scan"), "planned on a near-empty table: {young}");
    query("INSERT INTO topology_probe (name) SELECT 'k' || g FROM generate_series(21, 20000) AS g")
        .execute(&db)
        .await
        .unwrap();
    let grown = plan_of_by_names(&db, keys).await;
    assert!(grown.contains("Seq Scan"), "the kept plan outlives the growth: {grown}");
    // The server counts rows written at most once a second.
    let mut analyzed = Vec::new();
    for _ in 0..100 {
        analyzed = db.analyze_grown().await.unwrap();
        if !analyzed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(analyzed, ["topology_probe"]);
    let anew = plan_of_by_names(&db, keys).await;
    assert!(anew.contains("Index") && !anew.contains("Seq Scan"), "made anew after the analysis: {anew}");
    assert_eq!(db.analyze_grown().await.unwrap(), Vec::<String>::new(), "not again until it doubles again");
}
