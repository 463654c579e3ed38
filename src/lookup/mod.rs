//! The lookup engine: workers that take queued jobs, ask the blocklist, and store what it said.
//!
//! Jobs are rows (see [`crate::store`]), so nothing accepted is lost: a job is claimed with a
//! lease, looked up, and its outcome written in the same transaction that marks it done. A
//! process that dies leaves leases that run out, and the jobs return to the queue.

mod engine;
mod health;
mod throttle;

pub use engine::{EngineHandle, EngineSettings, LookupEngine, LookupStatus, Pause};
