//! SQLite's own machinery under the store: the writer connection run where it is awaited
//! (`native`), the group commit every write of the process queues for (`writer`), and the
//! checkpointer that keeps the WAL short (`checkpointer`). PostgreSQL needs none of it.

pub(super) mod checkpointer;
pub(super) mod native;
pub(super) mod writer;
