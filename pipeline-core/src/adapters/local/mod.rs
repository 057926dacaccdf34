//! Local adapters: a directory object store, an in-process queue, an SQLite job store.
pub mod dir_store;
pub mod mem_queue;
pub mod sqlite_jobs;

pub use dir_store::{DirObjectStore, Notification};
pub use mem_queue::MemQueue;
pub use sqlite_jobs::SqliteJobStore;
