//! secworks: an authenticated GraphQL API that looks IP addresses and domains up against DNS
//! blocklists, keeps the results and the listing changes, delivers those to webhooks and
//! subscriptions, and issues and revokes PASETO tokens through REST endpoints.
//!
//! Data flows one way, one module per stage: [`http`] (connections, routes, the token
//! endpoints, GraphQL over HTTP and WebSocket, every error response) → [`auth`] (who may
//! call) → [`graphql`] (resolvers) → [`store`] and [`lookup`] (the queue, and the engine that
//! works it, one dispatcher per list of [`blocklists`]) → `secworks_dnsbl` (DNS) → [`store`];
//! [`rechecks`] (the planner) queues the watched targets that fall due, like a resolver would;
//! the listing-event log in the store → [`webhooks`] (delivery). A module never reaches back
//! up the flow; the test `layers::each_layer_imports_only_what_lies_downstream` keeps it so.

pub mod app;
pub mod auth;
pub mod blocklists;
pub mod config;
pub mod filters;
pub mod graphql;
pub mod http;
pub mod import;
pub mod lookup;
pub mod memory;
pub mod rechecks;
pub mod retention;
pub mod store;
pub mod timestamp;
pub mod webhooks;

pub use app::Application;
pub use config::Config;

#[cfg(test)]
mod layers {
    use std::path::Path;

    /// What no layer below the HTTP and GraphQL layers may name.
    const ABOVE_THE_ENGINE: &[&str] = &[
        "poem",
        "poem_openapi",
        "async_graphql",
        "crate::http",
        "crate::graphql",
        "crate::auth",
    ];
    /// What the engine may not name besides: the planner feeds its queue.
    const ABOVE_THE_PLANNER: &[&str] = &[
        "poem",
        "poem_openapi",
        "async_graphql",
        "crate::http",
        "crate::graphql",
        "crate::auth",
        "crate::rechecks",
    ];
    /// What the store, and the webhook worker that reads it, may not name besides.
    const ABOVE_THE_STORE: &[&str] = &[
        "poem",
        "poem_openapi",
        "async_graphql",
        "crate::http",
        "crate::graphql",
        "crate::auth",
        "crate::rechecks",
        "crate::lookup",
    ];

    /// For each layer, what its sources must not name: the layers upstream of it.
    const FORBIDDEN: &[(&str, &[&str])] = &[
        (
            "auth",
            &[
                "poem",
                "poem_openapi",
                "async_graphql",
                "crate::http",
                "crate::graphql",
            ],
        ),
        ("graphql", &["poem", "poem_openapi", "crate::http"]),
        ("rechecks", ABOVE_THE_ENGINE),
        ("lookup", ABOVE_THE_PLANNER),
        ("webhooks", ABOVE_THE_STORE),
        ("store", ABOVE_THE_STORE),
    ];

    #[test]
    fn each_layer_imports_only_what_lies_downstream() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        for (layer, forbidden) in FORBIDDEN {
            for file in rust_files(&src.join(layer)) {
                let text = std::fs::read_to_string(&file).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    for name in *forbidden {
                        if names(code, name) {
                            found.push(format!("{}:{}: {name}", file.display(), n + 1));
                        }
                    }
                }
            }
        }
        assert!(found.is_empty(), "upstream names:\n{}", found.join("\n"));
    }

    /// Whether `code` names the path `name` (as `name::` or `use name`), not merely a longer
    /// identifier that starts with it.
    fn names(code: &str, name: &str) -> bool {
        code.match_indices(name).any(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = code[at + name.len()..].chars().next();
            let starts = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let ends = matches!(after, Some(':' | ';' | ',' | '}' | ' ') | None);
            starts && ends
        })
    }

    fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return files;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

    #[test]
    fn the_check_sees_what_it_looks_for() {
        assert!(names("use poem::Request;", "poem"));
        assert!(names("    let x = poem::http::StatusCode::OK;", "poem"));
        assert!(names(
            "use crate::http::observe::ClientAddr;",
            "crate::http"
        ));
        assert!(!names("use poem_openapi::Object;", "poem"));
        assert!(!names("let poems = 1;", "poem"));
        assert!(!names("use crate::httpx;", "crate::http"));
    }
}
