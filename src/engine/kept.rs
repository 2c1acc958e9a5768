//! Threads kept for the engine's work on several switches at once.
//!
//! Every phase of a transaction (read, prepare, read-back, the check before commit, commit)
//! works its switches at once, and with remote switches that is a thread per switch waiting
//! on its agent's answer. Made anew for each phase, those threads cost what starting a thread
//! costs, five times per switch and transaction: under the lab's UML kernel 2-4 ms of system
//! time each (65 starts took 114-252 ms there), the whole gap between 13 agents worked at once
//! and one after another. So threads that finish their work wait here for the next (a minute
//! at most), and [`each`] hands work to a waiting thread before it starts one.
//!
//! Unlike a fixed pool (rayon's), a batch never waits for a thread another batch holds: two
//! orders applied at once, one of them waiting out a dead agent's deadline, run side by side
//! as with threads of their own. And a batch runs at its caller's CPU priority, as threads
//! of its own would (Linux keeps a nice value per thread and a new thread takes its maker's):
//! a kept thread takes only work from callers of its own nice value, so the `serve` worker's
//! orders (nice +10) never run on a request's thread's priority, nor a request's on the
//! worker's. No crate keeps threads this way for borrowed work, hence
//! this module: [`each`] lends its work to kept threads as `std::thread::scope` does, and
//! waits for all of it before returning, even when unwinding.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::time::Duration;

/// Work lent by [`each`], and its count in `each`'s [`Running`], dropped (let go) only once
/// the thread that did the work is listed as waiting again, so the next batch finds it.
struct Task {
    work: &'static (dyn Fn() + Sync),
    done: Leave,
}

/// How long a kept thread waits for work before it ends.
const KEEP: Duration = Duration::from_secs(60);

/// A thread waiting for work: its id, its nice value, the sending end of its queue.
struct Idle {
    id: u64,
    nice: i32,
    to: mpsc::Sender<Task>,
}

/// The threads waiting for work.
static IDLE: Mutex<Vec<Idle>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
/// Runs `f` on every job, `workers` of them at once, on kept threads, and returns each job's
/// result in order (`None` for a job whose `f` panicked). The calling thread waits.
pub fn each<J: Send, T: Send>(jobs: &mut [J], workers: usize, f: &(impl Fn(&mut J) -> T + Sync)) -> Vec<Option<T>> {
    let results: Vec<Mutex<Option<T>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let queue = Mutex::new(jobs.iter_mut().enumerate());
    let work = || {
        loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((k, job)) = next else { break };
            if let Ok(r) = catch_unwind(AssertUnwindSafe(|| f(job))) {
                *results[k].lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
            }
        }
    };
    {
        let running = Running::default();
        let work: &(dyn Fn() + Sync) = &work;
        // SAFETY: `work` borrows `queue`, `results` and `f`, which outlive `running`, and
        // `running`'s drop (on return and on unwinding alike) waits until every task given
        // `work` has finished with it: each task counts itself in before it is handed out and
        // out (its `Leave` dropped, unwinding too) only after its last use of `work`.
        let work: &'static (dyn Fn() + Sync) = unsafe { std::mem::transmute(work) };
        for _ in 0..workers.max(1) {
            let task = Task { work, done: running.enter() };
            if let Err(task) = start(task) {
                // No thread to be had: the work is done here.
                (task.work)();
            }
        }
    }
    results.into_iter().map(|r| r.into_inner().unwrap_or_else(PoisonError::into_inner)).collect()
}

/// The tasks of one [`each`] still running; dropping it waits for them.
#[derive(Default)]
struct Running(Arc<(Mutex<usize>, Condvar)>);

struct Leave(Arc<(Mutex<usize>, Condvar)>);

impl Running {
    fn enter(&self) -> Leave {
        *self.0.0.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Leave(self.0.clone())
    }
}

impl Drop for Leave {
    fn drop(&mut self) {
        let (count, changed) = &*self.0;
        *count.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        changed.notify_all();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let (count, changed) = &*self.0;
        let mut n = count.lock().unwrap_or_else(PoisonError::into_inner);
        while *n > 0 {
            n = changed.wait(n).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The calling thread's nice value (on Linux `PRIO_PROCESS` 0 is the calling thread).
fn niceness() -> i32 {
    // SAFETY: getpriority only reads the calling thread's priority.
    unsafe { libc::getpriority(libc::PRIO_PROCESS as _, 0) }
}

/// Hands `task` to a waiting thread of the caller's nice value, else to a new one (made by
/// the caller, so of its nice value); gives it back when no thread can be started.
fn start(mut task: Task) -> Result<(), Task> {
    let nice = niceness();
    loop {
        let idle = {
            let mut idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner);
            idle.iter().rposition(|t| t.nice == nice).map(|k| idle.swap_remove(k))
        };
        let Some(Idle { to, .. }) = idle else { break };
        match to.send(task) {
            Ok(()) => return Ok(()),
            // That thread is gone (it cannot be, while listed: it ends only once unlisted).
            Err(mpsc::SendError(t)) => task = t,
        }
    }
    let (to, from) = mpsc::channel::<Task>();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let me = to.clone();
    match std::thread::Builder::new().name("switchboard-switch".into()).spawn(move || wait_for_work(id, me, from)) {
        Ok(_) => {
            // The thread holds the receiving end until it has taken this task at least.
            to.send(task).map_err(|mpsc::SendError(t)| t)
        }
        Err(_) => Err(task),
    }
}

/// A kept thread: runs what it is sent, lists itself as waiting, and ends after [`KEEP`]
/// without work.
fn wait_for_work(id: u64, me: mpsc::Sender<Task>, from: mpsc::Receiver<Task>) {
    loop {
        let task = match from.recv_timeout(KEEP) {
            Ok(task) => task,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let mut idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner);
                match idle.iter().position(|t| t.id == id) {
                    Some(k) => {
                        idle.swap_remove(k);
                        return;
                    }
                    // Taken off the list just now: its task is on the way.
                    None => {
                        drop(idle);
                        match from.recv() {
                            Ok(task) => task,
                            Err(_) => return,
                        }
                    }
                }
            }
        };
        let Task { work, done } = task;
        work();
        let nice = niceness();
        IDLE.lock().unwrap_or_else(PoisonError::into_inner).push(Idle { id, nice, to: me.clone() });
        drop(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn every_job_is_done_once_in_order_with_borrowed_data() {
        let mut jobs: Vec<u32> = (0..50).collect();
        let offset = 1000;
        let out = each(&mut jobs, 7, &|j: &mut u32| {
            *j += 1;
            *j + offset
        });
        assert_eq!(out, (0..50).map(|k| Some(k + 1 + offset)).collect::<Vec<_>>());
        assert_eq!(jobs, (1..51).collect::<Vec<_>>());
    }

    #[test]
    fn workers_run_at_once_and_their_threads_are_kept_for_the_next_batch() {
        // A barrier of `n` passes only when `n` jobs run at the same time.
        let n = 6;
        let barrier = Barrier::new(n);
        let mut jobs = vec![(); n];
        let names = each(&mut jobs, n, &|_| {
            barrier.wait();
            std::thread::current().id()
        });
        let first: std::collections::HashSet<_> = names.into_iter().map(Option::unwrap).collect();
        assert_eq!(first.len(), n);
        // The same number again right after: the threads of the first batch take it (other
        // tests of this process may take some of them too, so allow for new ones but ask that
        // most are reused).
        let names = each(&mut jobs, n, &|_| {
            barrier.wait();
            std::thread::current().id()
        });
        let again: std::collections::HashSet<_> = names.into_iter().map(Option::unwrap).collect();
        assert_eq!(again.len(), n);
        assert!(again.intersection(&first).count() >= 1, "no thread of the first batch was kept");
    }

    #[test]
    fn work_runs_at_its_callers_cpu_priority() {
        let nice_of_jobs = |n: usize| {
            let mut jobs = vec![(); n];
            each(&mut jobs, n, &|_| niceness()).into_iter().map(Option::unwrap).collect::<Vec<_>>()
        };
        let base = niceness();
        // A caller at a lower priority (as the `serve` worker's threads) leaves kept
        // threads of its nice value behind...
        let lowered = std::thread::spawn(move || {
            // SAFETY: nice only changes the calling thread's nice value.
            unsafe { libc::nice(3) };
            nice_of_jobs(4)
        })
        .join()
        .unwrap();
        if base + 3 <= 19 {
            assert_eq!(lowered, vec![base + 3; 4]);
        }
        // ...which work from this thread never runs on, and the other way round.
        assert_eq!(nice_of_jobs(4), vec![base; 4]);
        let again = std::thread::spawn(move || {
            // SAFETY: as above.
            unsafe { libc::nice(3) };
            nice_of_jobs(4)
        })
        .join()
        .unwrap();
        assert_eq!(again, lowered);
    }

    #[test]
    fn a_panicking_job_loses_only_its_own_result() {
        let mut jobs: Vec<u32> = (0..10).collect();
        let out = each(&mut jobs, 3, &|j: &mut u32| {
            assert!(*j != 4, "job 4 fails");
            *j * 2
        });
        for (k, r) in out.iter().enumerate() {
            if k == 4 {
                assert_eq!(*r, None);
            } else {
                assert_eq!(*r, Some(k as u32 * 2));
            }
        }
    }

    #[test]
    fn a_batch_never_waits_for_threads_another_batch_holds() {
        // One batch holds its threads until the other has finished: with a fixed pool of the
        // first batch's size the second could never run.
        let held = Arc::new((Mutex::new((0, false)), Condvar::new()));
        let holder = {
            let held = held.clone();
            std::thread::spawn(move || {
                let mut jobs = vec![(); 4];
                each(&mut jobs, 4, &|_| {
                    let (state, changed) = &*held;
                    let mut state = state.lock().unwrap();
                    state.0 += 1;
                    changed.notify_all();
                    while !state.1 {
                        state = changed.wait(state).unwrap();
                    }
                });
            })
        };
        // Every job of the holding batch is running before the second batch starts.
        {
            let (state, changed) = &*held;
            let state = state.lock().unwrap();
            let (state, _) = changed.wait_timeout_while(state, Duration::from_secs(10), |s| s.0 < 4).unwrap();
            assert_eq!(state.0, 4, "the holding batch's jobs did not all start");
        }
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut jobs = vec![1u8; 4];
            let _ = tx.send(each(&mut jobs, 4, &|j: &mut u8| *j));
        });
        let out = rx.recv_timeout(Duration::from_secs(10)).expect("the second batch waited for the first's threads");
        assert_eq!(out, vec![Some(1); 4]);
        held.0.lock().unwrap().1 = true;
        held.1.notify_all();
        holder.join().unwrap();
    }
}
