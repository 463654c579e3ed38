//! The HTTP client that delivers webhooks: hyper's client over a connector whose resolver
//! drops every address that is not global (unless `SECWORKS_WEBHOOK_ALLOW_PRIVATE`), so the
//! address connected to is checked at each delivery, whatever the name resolved to when the
//! webhook was created (DNS rebinding). An address literal in the URL is never resolved: it is
//! checked before the request instead.
//!
//! Why hyper's client and not reqwest: there is no proxy (reqwest would honour `HTTP_PROXY`
//! and connect there, past the check, unless told not to), no redirect handling to switch
//! off (hyper never follows one), and TLS is rustls on ring with the webpki roots, chosen
//! here, with no second crypto provider or native roots compiled in. hyper and hyper-util are
//! in the tree already for the server. HTTP/1.1 only: one small POST per event.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

use super::address::{self, WebhookUrl};

/// How much of a response body is read (and then dropped): enough to let the connection be
/// reused, never a large answer.
const MAX_RESPONSE_BYTES: usize = 4096;

/// Resolves with the system resolver, then keeps only the addresses deliveries may reach.
#[derive(Clone, Debug)]
pub struct FilteringResolver {
    allow_private: bool,
}

impl FilteringResolver {
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    /// The addresses of `host` that may be connected to; an error naming the first refused
    /// one when none may.
    pub async fn resolve(&self, host: &str) -> io::Result<Vec<SocketAddr>> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        self.filter(host, found)
    }

    fn filter(&self, host: &str, found: Vec<SocketAddr>) -> io::Result<Vec<SocketAddr>> {
        if self.allow_private {
            return Ok(found);
        }
        let mut refused = None;
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|addr| match address::refuse_non_global(addr.ip()) {
                Ok(()) => true,
                Err(problem) => {
                    refused.get_or_insert(problem);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (false, _) => Ok(allowed),
            (true, Some(problem)) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{host}: {problem}"),
            )),
            (true, None) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} has no address"),
            )),
        }
    }
}

type Addrs = std::vec::IntoIter<SocketAddr>;

impl tower_service::Service<Name> for FilteringResolver {
    type Response = Addrs;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Addrs>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.resolve(name.as_str()).await?;
            Ok(addrs.into_iter())
        })
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The receiver answered with this status.
    Answered(StatusCode),
    /// No answer: the address was refused, the connection failed, or time ran out.
    Failed(String),
}

/// The webhook client: one per worker, its connections pooled per host.
#[derive(Clone)]
pub struct WebhookClient {
    client: Client<HttpsConnector<HttpConnector<FilteringResolver>>, Full<Bytes>>,
    timeout: Duration,
    allow_private: bool,
}

impl WebhookClient {
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, rustls::Error> {
        let mut http = HttpConnector::new_with_resolver(FilteringResolver::new(allow_private));
        // https URLs go through the TLS layer, which hands http ones down as they are.
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let https = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(2)
            .build(https);
        Ok(Self {
            client,
            timeout,
            allow_private,
        })
    }

    /// The longest time one attempt may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// POSTs `body` (JSON) with `headers` to `url`, within the timeout: the status, or why
    /// none came. A redirect is an answer like any other (not followed); at most a few KiB of
    /// the response body are read.
    pub async fn post(&self, url: &WebhookUrl, headers: HeaderMap, body: Bytes) -> Sent {
        if let Some(ip) = url.literal()
            && !self.allow_private
            && let Err(problem) = address::refuse_non_global(ip)
        {
            return Sent::Failed(problem.to_string());
        }
        let request = Request::post(url.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("secworks/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body));
        let mut request = match request {
            Ok(request) => request,
            Err(e) => return Sent::Failed(format!("cannot build the request: {e}")),
        };
        request.headers_mut().extend(headers);
        let attempt = async {
            let response = self.client.request(request).await.map_err(describe)?;
            let status = response.status();
            // Read a little so the connection can be reused; a longer body is cut off (and
            // the connection then closed), never buffered.
            let _ = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await;
            Ok::<_, String>(status)
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(status)) => Sent::Answered(status),
            Ok(Err(error)) => Sent::Failed(error),
            Err(_) => Sent::Failed(format!("no answer within {:?}", self.timeout)),
        }
    }
}

/// A client error with its causes: hyper's own message is only "client error (Connect)".
fn describe(error: hyper_util::client::legacy::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(texts: &[&str]) -> Vec<SocketAddr> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn the_resolver_keeps_only_global_addresses() {
        let strict = FilteringResolver::new(false);
        let mixed = addrs(&["127.0.0.1:0", "93.184.216.34:0", "[fd00::1]:0"]);
        assert_eq!(
            strict.filter("mixed.example", mixed.clone()).unwrap(),
            addrs(&["93.184.216.34:0"])
        );
        let error = strict
            .filter("rebound.example", addrs(&["127.0.0.1:0", "[::1]:0"]))
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            error
                .to_string()
                .contains("127.0.0.1 is a loopback address"),
            "{error}"
        );
        let open = FilteringResolver::new(true);
        assert_eq!(open.filter("mixed.example", mixed.clone()).unwrap(), mixed);
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_not_reached() {
        let strict = FilteringResolver::new(false);
        let error = strict.resolve("localhost").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{error}");
        assert!(
            FilteringResolver::new(true)
                .resolve("localhost")
                .await
                .is_ok()
        );

        // Through the client: no connection is made, the attempt fails naming why.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = WebhookClient::new(Duration::from_secs(2), false).unwrap();
        for url in [
            format!("http://localhost:{port}/"),
            format!("http://127.0.0.1:{port}/"),
        ] {
            let url = address::parse(&url).unwrap();
            match client.post(&url, HeaderMap::new(), Bytes::new()).await {
                Sent::Failed(why) => assert!(why.contains("loopback"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "a connection was made");
    }
}
