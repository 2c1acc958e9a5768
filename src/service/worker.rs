//! The order worker: runs orders until told to stop (`worker` and `serve`), and beside a
//! server's request handlers on a thread of its own at a lower CPU priority, so a request
//! that wants the same core as an order comes first.

use std::time::Duration;

use crate::store::Dialect;

use super::Service;

/// Runs orders until told to stop (the `worker` command and `serve`).
pub struct Worker {
    pub service: Service,
    /// How often to look for expired offers, ended usage terms, time windows and used-up
    /// allowances (switch counters).
    pub sweep_every: Duration,
}

/// How much lower than the requests' the CPU priority of the worker's threads is (a nice
/// increment: at 10, a thread gets about a tenth of the share of a request's thread when
/// both want the same core).
pub const WORKER_NICENESS: i32 = 10;

impl Worker {
    /// Runs the worker beside a server's request handlers. On SQLite it gets a thread of
    /// its own (with its own runtime, and blocking threads for the engine) at a lower CPU
    /// priority than the threads serving requests: orders still get every core nobody else
    /// wants, but when a request and an order want the same core the request comes first.
    /// The worker is a backlog; a request is somebody waiting (under load the worker holds
    /// a core much of the time; docs/performance.md). On PostgreSQL it runs on the caller's
    /// runtime: connections of the pool serve both, and a connection's I/O is driven by
    /// the runtime that opened it, which must not be a thread that yields to requests.
    /// The handle finishes when the worker does.
    pub fn spawn_beside_requests(
        self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> std::io::Result<tokio::task::JoinHandle<()>> {
        if self.service.db.dialect == Dialect::Postgres {
            return Ok(tokio::spawn(async move { self.run(stop).await }));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("switchboard-worker")
            .on_thread_start(lower_priority)
            .build()?;
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new().name("switchboard-worker".into()).spawn(move || {
            lower_priority();
            rt.block_on(self.run(stop));
            let _ = done_tx.send(());
        })?;
        Ok(tokio::spawn(async move {
            let _ = done_rx.await;
        }))
    }

    pub async fn run(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut last_sweep = std::time::Instant::now() - self.sweep_every;
        loop {
            if *stop.borrow() {
                return;
            }
            if last_sweep.elapsed() >= self.sweep_every {
                if let Err(e) = self.service.sweep().await {
                    tracing::warn!(error = %e, "sweep failed");
                }
                if let Err(e) = self.service.meter().await {
                    tracing::warn!(error = %e, "metering failed");
                }
                if let Err(e) = self.service.bill().await {
                    tracing::warn!(error = %e, "billing failed");
                }
                last_sweep = std::time::Instant::now();
            }
            match self.service.run_pending().await {
                Ok(done) if !done.is_empty() => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "order processing failed"),
            }
            tokio::select! {
                _ = self.service.notify.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Lowers the calling thread's CPU priority by [`WORKER_NICENESS`] (on Linux a nice value
/// is a thread's own). Best effort: a thread that cannot be lowered runs as it is.
fn lower_priority() {
    // SAFETY: nice only changes the calling thread's nice value.
    let r = unsafe {
        *libc::__errno_location() = 0;
        libc::nice(WORKER_NICENESS)
    };
    let e = std::io::Error::last_os_error();
    if r == -1 && e.raw_os_error() != Some(0) {
        tracing::debug!(error = %e, "cannot lower the worker's priority");
    }
}
