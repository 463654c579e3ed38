//! Integration tests: the real server on an ephemeral port over a temporary SQLite file,
//! driven over HTTP. One binary, one module per area.

mod clients;
mod config;
mod contract;
mod generated_clients;
mod graphql;
mod helpers;
mod lookups;
mod probes;
mod tokens;
