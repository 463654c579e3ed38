//! The code generated for a streamed response compiles against poem-openapi 5 and serves the
//! body as the handler streams it: `streamed/generated.rs` is the generator's output for
//! `src/openapi/fixtures/export.yaml`, kept current by `generated_code_is_current`
//! (`INSTA_UPDATE=always cargo test -p secworks-codegen` rewrites it, as it does the snapshots;
//! the next run compiles the new code).

use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use poem::http::StatusCode;
use poem::{Body, Endpoint, IntoEndpoint, Request, Response};
use secworks_codegen::openapi::generate;
use tokio::sync::mpsc;

mod generated {
    include!("streamed/generated.rs");
}

use generated::{BearerAuth, Error, ExportLookupsResponse, Handlers, StreamedBody};

#[test]
fn generated_code_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read_to_string(root.join("src/openapi/fixtures/export.yaml")).unwrap();
    let code = generate("openapi.yaml", &yaml).unwrap();
    let path = root.join("tests/streamed/generated.rs");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if code == committed {
        return;
    }
    if std::env::var("INSTA_UPDATE").as_deref() == Ok("always") {
        std::fs::write(&path, code).unwrap();
        eprintln!(
            "rewrote {}; run the tests again to compile it",
            path.display()
        );
        return;
    }
    panic!(
        "{} is stale: refresh it with `INSTA_UPDATE=always cargo test -p secworks-codegen`",
        path.display()
    );
}

type Chunks = BoxStream<'static, Result<Vec<u8>, std::io::Error>>;

/// Answers in the type the request accepts, with the chunks the test hands it.
struct Export {
    chunks: Mutex<Option<Chunks>>,
}

impl Export {
    fn new(chunks: Chunks) -> Arc<Self> {
        Arc::new(Export {
            chunks: Mutex::new(Some(chunks)),
        })
    }

    fn body(&self) -> Body {
        let chunks = self.chunks.lock().unwrap().take();
        Body::from_bytes_stream(chunks.unwrap_or_else(|| stream::empty().boxed()))
    }
}

impl Handlers for Export {
    async fn export_lookups(
        &self,
        req: &Request,
        auth: BearerAuth,
        listed: Option<bool>,
        _within: Option<String>,
    ) -> ExportLookupsResponse {
        if auth.0.token != "t" {
            return ExportLookupsResponse::Unauthorized {
                body: Error {
                    error: "Unauthorized".into(),
                    message: None,
                },
                www_authenticate: "Bearer error=\"invalid_token\"".into(),
            };
        }
        if listed == Some(false) {
            return ExportLookupsResponse::BadRequest {
                body: Error {
                    error: "Bad Request".into(),
                    message: Some("listed=false".into()),
                },
            };
        }
        let content_type = match req.header("accept") {
            Some("application/x-ndjson") => "application/x-ndjson",
            Some("text/csv") | None => "text/csv; charset=utf-8",
            // Not a type the response declares: the generated code must not send it.
            Some("text/html") => "text/html",
            Some(_) => {
                return ExportLookupsResponse::NotAcceptable {
                    body: Error {
                        error: "Not Acceptable".into(),
                        message: None,
                    },
                };
            }
        };
        ExportLookupsResponse::Ok {
            body: StreamedBody {
                content_type: content_type.into(),
                body: self.body(),
            },
        }
    }
}

fn chunks(parts: &[&'static str]) -> Chunks {
    let parts: Vec<_> = parts.iter().map(|p| Ok(p.as_bytes().to_vec())).collect();
    stream::iter(parts).boxed()
}

async fn get(handlers: Arc<Export>, uri: &str, accept: Option<&str>) -> Response {
    get_as(handlers, "t", uri, accept).await
}

async fn get_as(handlers: Arc<Export>, token: &str, uri: &str, accept: Option<&str>) -> Response {
    let endpoint = generated::service(handlers).into_endpoint();
    let mut req = Request::builder()
        .uri(uri.parse().unwrap())
        .header("authorization", format!("Bearer {token}"));
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    endpoint.get_response(req.finish()).await
}

/// The body's chunks as they arrive.
async fn chunks_of(response: Response) -> Vec<String> {
    let mut stream = response.into_body().into_bytes_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.push(String::from_utf8(chunk.unwrap().to_vec()).unwrap());
    }
    out
}

#[tokio::test]
async fn a_streamed_200_has_the_chosen_type_and_the_handlers_chunks() {
    let handlers = Export::new(chunks(&["address,listed\n", "192.0.2.1,true\n"]));
    let response = get(handlers, "/export/lookups?listed=true", Some("text/csv")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_type(), Some("text/csv; charset=utf-8"));
    assert_eq!(
        chunks_of(response).await,
        ["address,listed\n", "192.0.2.1,true\n"]
    );

    let handlers = Export::new(chunks(&["{\"address\":\"192.0.2.1\"}\n"]));
    let response = get(handlers, "/export/lookups", Some("application/x-ndjson")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_type(), Some("application/x-ndjson"));
    assert_eq!(chunks_of(response).await, ["{\"address\":\"192.0.2.1\"}\n"]);
}

/// The response is on its way before the handler's stream has produced anything: each chunk
/// reaches the client as it is sent, nothing is buffered.
#[tokio::test]
async fn the_body_is_not_buffered() {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(1);
    let rows = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok(chunk), rx))
    });
    let handlers = Export::new(rows.boxed());
    let response = get(handlers, "/export/lookups", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_bytes_stream();
    for row in ["address,listed\n", "192.0.2.1,true\n"] {
        tx.send(row.as_bytes().to_vec()).await.unwrap();
        let chunk = body.next().await.unwrap().unwrap();
        assert_eq!(chunk, row.as_bytes());
    }
    drop(tx);
    assert!(body.next().await.is_none());
}

#[tokio::test]
async fn other_statuses_keep_their_json_bodies() {
    let response = get(
        Export::new(chunks(&[])),
        "/export/lookups?listed=false",
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.content_type(),
        Some("application/json; charset=utf-8")
    );
    let body = response.into_body().into_string().await.unwrap();
    assert_eq!(body, r#"{"error":"Bad Request","message":"listed=false"}"#);

    let response = get(
        Export::new(chunks(&[])),
        "/export/lookups",
        Some("image/png"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
}

/// A handler that picks a type its response does not declare gets a 500, not a body the
/// client was not promised.
#[tokio::test]
async fn an_undeclared_type_is_a_server_error() {
    let handlers = Export::new(chunks(&["<p>no</p>"]));
    let response = get(handlers, "/export/lookups", Some("text/html")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_ne!(response.content_type(), Some("text/html"));
}

/// poem-openapi's document (what secworks serves at /openapi.json) names every declared type
/// of the 200, each a string, as the source document says.
#[test]
fn poem_openapi_describes_the_streamed_200() {
    let spec: serde_json::Value =
        serde_json::from_str(&generated::service(Export::new(chunks(&[]))).spec()).unwrap();
    let content = &spec["paths"]["/export/lookups"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        content,
        &serde_json::json!({
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        })
    );
}
