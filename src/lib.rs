//! secworks: an authenticated GraphQL API that looks IP addresses up against DNS blocklists,
//! keeps the results, and issues and revokes PASETO tokens through REST endpoints.
//!
//! Data flows one way: [`http`] → [`auth`] → [`graphql`] resolvers / token handlers →
//! [`store`].

pub mod app;
pub mod auth;
pub mod config;
pub mod graphql;
pub mod http;
pub mod import;
pub mod lookup;
pub mod memory;
pub mod store;
pub mod timestamp;

pub use app::Application;
pub use config::Config;
