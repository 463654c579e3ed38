//! Integration tests: the real server on an ephemeral port over a temporary SQLite file,
//! driven over HTTP. One binary, one module per area.

mod config;
mod contract;
mod graphql;
mod helpers;
mod lookups;
mod probes;
mod tokens;
