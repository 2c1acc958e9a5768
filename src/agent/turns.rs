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

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Where the agents of a host find their turns unless told otherwise.
pub const DIR: &str = "/run/switchboard/agent-turns";

/// A host's turns: one lock file per turn.
#[derive(Debug)]
pub struct Turns {
    files: Vec<File>,
}

/// A turn held; dropping it lets the next agent in.
#[derive(Debug)]
pub struct Turn<'a>(&'a File);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Turns {
    /// `count` turns in `dir` (made when missing): `turn-0.lock`, `turn-1.lock`, ...
    pub fn open(dir: &Path, count: usize) -> io::Result<Turns> {
        std::fs::create_dir_all(dir)?;
        let files = (0..count.max(1))
            .map(|i| {
                let path: PathBuf = dir.join(format!("turn-{i}.lock"));
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
            })
            .collect::<io::Result<_>>()?;
        Ok(Turns { files })
    }

    /// Takes a free turn, or waits for one (each process waits on its own pick, so waiting
    /// agents spread over the turns).
    pub fn take(&self) -> io::Result<Turn<'_>> {
        for f in &self.files {
            match f.try_lock() {
                Ok(()) => return Ok(Turn(f)),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
        let f = &self.files[std::process::id() as usize % self.files.len()];
        f.lock()?;
        Ok(Turn(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    /// Separate opens of the same files (as separate agents make) never hold more turns
    /// at once than there are, and every one gets its turn.
    #[test]
    fn no_more_hold_a_turn_at_once_than_there_are() {
        let dir = tempfile::tempdir().unwrap();
        for count in [1, 2] {
            let inside = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(AtomicUsize::new(0));
            let start = Arc::new(Barrier::new(6));
            let threads: Vec<_> = (0..6)
                .map(|_| {
                    let (dir, inside, most, done, start) =
                        (dir.path().to_path_buf(), inside.clone(), most.clone(), done.clone(), start.clone());
                    std::thread::spawn(move || {
                        let turns = Turns::open(&dir, count).unwrap();
                        start.wait();
                        for _ in 0..5 {
                            let _turn = turns.take().unwrap();
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(2));
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            assert_eq!(done.load(Ordering::SeqCst), 6);
            let most = most.load(Ordering::SeqCst);
            assert!(most <= count, "{most} held a turn at once with {count} turns");
            if count == 1 {
                assert_eq!(most, 1);
            }
        }
    }
}
