//! `GET /graphiql`: GraphiQL, with every file it loads served from here, so that it works on a
//! network that reaches nothing but this service.
//!
//! The page and its script are ours (`web/graphiql.html`, `web/graphiql.js`); React and GraphiQL
//! are the pinned copies in `web/vendor/` (see `web/vendor/README.md`), compiled into the binary.

use poem::endpoint::make_sync;
use poem::http::header;
use poem::{Response, ResponseBuilder, Route, get};

/// The page runs only scripts from this origin and sends requests only to it. GraphiQL's
/// stylesheet embeds its fonts as `data:` URLs, and its dialogs inject `<style>` elements.
const PAGE_CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
    font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The file names are not versioned, so a browser re-checks within the hour after an upgrade.
const ASSET_CACHE: &str = "public, max-age=3600";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// One file under `/graphiql/`: its name there, its type, and its bytes from `web/<name>`, or
/// from `web/vendor/<name>` for a third-party file.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        ($name, $content_type, web_file!($name))
    };
    (vendor $name:literal, $content_type:expr) => {
        ($name, $content_type, web_file!(concat!("vendor/", $name)))
    };
}

macro_rules! web_file {
    ($path:expr) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)).as_slice()
    };
}

/// Every file the page loads besides itself.
const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("graphiql.js", JS),
    asset!(vendor "graphiql.min.js", JS),
    asset!(vendor "graphiql.min.css", CSS),
    asset!(vendor "react.production.min.js", JS),
    asset!(vendor "react-dom.production.min.js", JS),
];

const PAGE: &[u8] = web_file!("graphiql.html");

/// The routes to nest at `/graphiql`: the page at its root, each asset at `/<name>`.
pub fn routes() -> Route {
    let page = make_sync(|_| {
        file("text/html; charset=utf-8", "no-cache")
            .header(header::CONTENT_SECURITY_POLICY, PAGE_CSP)
            .body(PAGE)
    });
    let mut route = Route::new().at("/", get(page));
    for &(name, content_type, body) in ASSETS {
        let asset = make_sync(move |_| file(content_type, ASSET_CACHE).body(body));
        route = route.at(format!("/{name}"), get(asset));
    }
    route
}

fn file(content_type: &'static str, cache: &'static str) -> ResponseBuilder {
    Response::builder()
        .content_type(content_type)
        .header(header::CACHE_CONTROL, cache)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
}
