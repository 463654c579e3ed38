//! The lookup engine: workers that take queued jobs, ask each enabled blocklist, and store
//! what it said.
//!
//! Jobs are rows (see [`crate::store`]), one per target and list, so nothing accepted is lost:
//! a job is claimed with a lease, looked up, and its outcome written in the same transaction
//! that marks it done. A process that dies leaves leases that run out, and the jobs return to
//! the queue. Each list runs on its own: its test points, rate cap and daily budget pause it
//! alone. The writer (`writer.rs`) holds an answer that would delist a target until the list's
//! test points pass again.

mod budget;
mod engine;
mod health;
mod throttle;
mod writer;

pub use engine::{EngineHandle, EngineSettings, ListStatus, LookupEngine, LookupStatus, Pause};
pub use health::test_point_advice;
