//! Integration tests: the real server on an ephemeral port over a temporary SQLite file,
//! driven over HTTP. One binary, one module per area.

mod admin;
mod analyst;
mod blocklists;
mod cli;
mod clients;
mod config;
mod connections;
mod contract;
mod dashboard;
mod docker;
mod generated_clients;
mod graphql;
mod helpers;
mod lifecycle;
mod lookups;
mod observability;
mod probes;
mod rechecks;
mod replicas;
mod scopes;
mod security;
mod subscriptions;
mod tokens;
mod watchlists;
mod webhooks;
