//! Agents on one host take turns at its kernel.
//!
//! Every agent on a host works its bridge through the same kernel, and route netlink changes
//! in every namespace take that kernel's one RTNL lock: agents working at once beyond the
//! host's CPUs only queue on the lock and switch contexts (what the engine's own rule for
//! local switches says, `engine::parallelism`). So an agent's calls that work the bridge take
//! one of the host's turns first: a lock file per CPU in a directory every agent on the host
//! sees (`flock`, released when the turn is dropped or the process dies). An agent alone on
//! its switch (a white-box switch) always finds a turn free; the lab's agents, one per switch
//! namespace on one machine, take turns as the local driver's threads would.
//!
//! A lock is the open file's (`flock` locks an open file description), so the threads of
//! one agent take their turns one at a time through a lock of the process first: two of them
//! holding one file's lock would both be let go when the first unlocks it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Where the agents of a host find their turns unless told otherwise.
pub const DIR: &str = "/run/switchboard/agent-turns";

/// A host's turns: one lock file per turn.
#[derive(Debug)]
pub struct Turns {
    files: Vec<File>,
    /// This process's one turn at a time.
    mine: Mutex<()>,
}

/// A turn held; dropping it lets the next agent in.
#[derive(Debug)]
pub struct Turn<'a> {
    file: &'a File,
    _mine: MutexGuard<'a, ()>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

impl Turns {
    /// `count` turns in `dir` (made when missing, open to every user's agents):
    /// `turn-0.lock`, `turn-1.lock`, ... A file another user made is opened to read (a lock
    /// needs no more).
    pub fn open(dir: &Path, count: usize) -> io::Result<Turns> {
        std::fs::create_dir_all(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        let files = (0..count.max(1))
            .map(|i| {
                let path: PathBuf = dir.join(format!("turn-{i}.lock"));
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .mode(0o666)
                    .open(&path)
                    .or_else(|_| File::open(&path))
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
            })
            .collect::<io::Result<_>>()?;
        Ok(Turns { files, mine: Mutex::new(()) })
    }

    /// Takes a free turn, or waits for one (a process waits on its own pick, so waiting
    /// agents spread over the turns; one whose pick stays taken waits while another may be
    /// free, which with one turn per CPU costs at most that CPU's share).
    pub fn take(&self) -> io::Result<Turn<'_>> {
        let mine = self.mine.lock().unwrap_or_else(PoisonError::into_inner);
        for file in &self.files {
            match file.try_lock() {
                Ok(()) => return Ok(Turn { file, _mine: mine }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
        let file = &self.files[std::process::id() as usize % self.files.len()];
        file.lock()?;
        Ok(Turn { file, _mine: mine })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    /// Who holds a turn: how many at once now, and the most at once so far.
    #[derive(Default)]
    struct Inside {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    impl Inside {
        /// Takes a turn five times, holding it 2 ms each.
        fn take_turns(&self, turns: &Turns) {
            for _ in 0..5 {
                let _turn = turns.take().unwrap();
                let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
                self.most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                self.now.fetch_sub(1, Ordering::SeqCst);
            }
        }

        fn most(&self) -> usize {
            self.most.load(Ordering::SeqCst)
        }
    }

    /// The threads of one agent (one `Turns`) hold its turn one at a time: a lock is the open
    /// file's, so two threads holding it through one file would both be let go by the first
    /// one's unlock while another agent waits.
    #[test]
    fn threads_of_one_agent_take_turns_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let turns = Arc::new(Turns::open(dir.path(), 1).unwrap());
        let other = Turns::open(dir.path(), 1).unwrap();
        let inside = Arc::new(Inside::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (turns, inside) = (turns.clone(), inside.clone());
                std::thread::spawn(move || inside.take_turns(&turns))
            })
            .collect();
        // Another agent meanwhile: never inside beside one of them.
        inside.take_turns(&other);
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(inside.most(), 1);
    }

    /// Separate opens of the same files (as separate agents make) never hold more turns
    /// at once than there are, and every one gets its turn.
    #[test]
    fn no_more_hold_a_turn_at_once_than_there_are() {
        let dir = tempfile::tempdir().unwrap();
        for count in [1, 2] {
            let inside = Arc::new(Inside::default());
            let done = Arc::new(AtomicUsize::new(0));
            let start = Arc::new(Barrier::new(6));
            let threads: Vec<_> = (0..6)
                .map(|_| {
                    let (dir, inside, done, start) =
                        (dir.path().to_path_buf(), inside.clone(), done.clone(), start.clone());
                    std::thread::spawn(move || {
                        let turns = Turns::open(&dir, count).unwrap();
                        start.wait();
                        inside.take_turns(&turns);
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            assert_eq!(done.load(Ordering::SeqCst), 6);
            let most = inside.most();
            assert!(most <= count, "{most} held a turn at once with {count} turns");
            if count == 1 {
                assert_eq!(most, 1);
            }
        }
    }
}
