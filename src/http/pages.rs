//! The pages for people: `GET /graphiql` (GraphiQL), `GET /docs` (Swagger UI on the token
//! API) and `GET /ui` (the dashboard). Every file each loads is served from here, so all work
//! on a network that reaches nothing but this service, and none sends anything to another
//! host. Each page is public; what it shows comes from the API with a bearer token that its
//! login form obtains.
//!
//! The pages and their scripts are ours (`web/graphiql.*`, `web/docs.*`, `web/dashboard.*`);
//! GraphiQL, React, Swagger UI and uPlot are the pinned copies in `web/vendor/` (see
//! `web/vendor/README.md`), compiled into the binary.

use poem::endpoint::make_sync;
use poem::http::header;
use poem::{Response, ResponseBuilder, Route, get};

/// One page: its HTML, the policy it runs under, and the files it loads from `/<route>/<name>`.
pub struct Page {
    html: &'static [u8],
    csp: &'static str,
    assets: &'static [Asset],
}

/// A file a page loads: its name under the page's route, its type, and its bytes from
/// `web/<name>`, or from `web/vendor/<name>` for a third-party file.
type Asset = (&'static str, &'static str, &'static [u8]);

/// The file names are not versioned, so a browser re-checks within the hour after an upgrade.
const ASSET_CACHE: &str = "public, max-age=3600";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

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

/// GraphiQL runs only scripts from this origin and sends requests only to it. Its stylesheet
/// embeds its fonts as `data:` URLs, and its dialogs inject `<style>` elements.
pub static GRAPHIQL: Page = Page {
    html: web_file!("graphiql.html"),
    csp: "default-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; \
          object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    assets: &[
        asset!("graphiql.js", JS),
        asset!(vendor "graphiql.min.js", JS),
        asset!(vendor "graphiql.min.css", CSS),
        asset!(vendor "react.production.min.js", JS),
        asset!(vendor "react-dom.production.min.js", JS),
    ],
};

/// Swagger UI fetches /openapi.json and, for "Try it out", the token endpoints: all on this
/// origin. Its stylesheet draws icons from `data:` SVGs; it sets some styles inline.
pub static DOCS: Page = Page {
    html: web_file!("docs.html"),
    csp: "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
          object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    assets: &[
        asset!("docs.js", JS),
        asset!(vendor "swagger-ui-bundle.js", JS),
        asset!(vendor "swagger-ui.css", CSS),
    ],
};

/// The dashboard runs only its own and uPlot's scripts and styles from this origin, with no
/// inline script or `<style>` (uPlot sizes its elements through the CSSOM, which `style-src`
/// does not govern), and fetches only this origin's API.
pub static DASHBOARD: Page = Page {
    html: web_file!("dashboard.html"),
    csp: "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
          form-action 'none'; frame-ancestors 'none'",
    assets: &[
        asset!("dashboard.js", JS),
        asset!("dashboard.css", CSS),
        asset!(vendor "uPlot.iife.min.js", JS),
        asset!(vendor "uPlot.min.css", CSS),
    ],
};

impl Page {
    /// The routes to nest at the page's path: the page at its root, each asset at `/<name>`.
    pub fn routes(&'static self) -> Route {
        let page = make_sync(move |_| {
            file("text/html; charset=utf-8", "no-cache")
                .header(header::CONTENT_SECURITY_POLICY, self.csp)
                .body(self.html)
        });
        let mut route = Route::new().at("/", get(page));
        for &(name, content_type, body) in self.assets {
            let asset = make_sync(move |_| file(content_type, ASSET_CACHE).body(body));
            route = route.at(format!("/{name}"), get(asset));
        }
        route
    }
}

fn file(content_type: &'static str, cache: &'static str) -> ResponseBuilder {
    Response::builder()
        .content_type(content_type)
        .header(header::CACHE_CONTROL, cache)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
}
