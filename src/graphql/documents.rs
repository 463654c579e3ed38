//! Documents clients send again and again (a generated client sends the same few queries for
//! its whole life): parsed once, and validated once per document, operation and variables.
//!
//! Parsing depends on the text alone, so one process-wide cache serves every schema.
//! Validation depends on the schema, and on the variables as well as the document (a
//! variable of the wrong type is a request error, answered 400 before anything runs), so its
//! verdicts are kept by the schema's own extension, under the whole request. Only passing
//! verdicts are kept: a failing request is validated again, and answers as it did. The
//! depth and complexity limits are checked against every kept verdict, as validation checks
//! them.

use std::sync::{Arc, LazyLock};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerError, ValidationResult};
use moka::sync::Cache;

use super::QueryLimits;

/// Parsed documents kept: clients send few distinct queries, and parsing is the largest
/// single cost of a small one (more than executing it).
const PARSED: u64 = 64;
/// Validation verdicts kept: one per document, operation and variables.
const VALIDATED: u64 = 1024;
/// Longer queries are parsed and validated every time, so the caches hold at most 64 and
/// 1,024 entries of at most 2 KiB of query each.
const MAX_QUERY_LEN: usize = 2048;
/// Requests with more variables than this (as JSON) are validated every time.
const MAX_VARIABLES_LEN: usize = 512;

/// Query text → its parsed document.
static PARSED_DOCUMENTS: LazyLock<Cache<Box<str>, Arc<ExecutableDocument>>> =
    LazyLock::new(|| Cache::new(PARSED));

/// The request a validation verdict is kept under: its document, operation and variables.
#[derive(Clone)]
struct ValidationKey(Arc<str>);

/// Gives `request` its parsed document from the cache (or parses it now and keeps it), and
/// names what its validation verdict is kept under. A query that does not parse is left
/// alone: the schema parses it again and reports the error as it would have.
pub fn prepare(mut request: async_graphql::Request) -> async_graphql::Request {
    if request.query.len() > MAX_QUERY_LEN {
        return request;
    }
    let document = match PARSED_DOCUMENTS.get(request.query.as_str()) {
        Some(document) => document,
        None => match async_graphql::parser::parse_query(&request.query) {
            Ok(document) => {
                let document = Arc::new(document);
                PARSED_DOCUMENTS.insert(request.query.as_str().into(), document.clone());
                document
            }
            Err(_) => return request,
        },
    };
    // The schema takes the document and edits it (skipped fields), so it gets a copy.
    request.set_parsed_query(ExecutableDocument::clone(&document));
    if let Ok(variables) = serde_json::to_string(&request.variables)
        && variables.len() <= MAX_VARIABLES_LEN
    {
        // No operation name and an empty one validate differently (an empty one selects no
        // operation, so no variable's value is checked), so they are kept apart: `=name` or
        // nothing. NUL appears in neither a query nor an operation name a parser accepts, and
        // the variables come last: the parts cannot run into each other.
        let operation = request
            .operation_name
            .as_deref()
            .map_or(String::new(), |name| format!("={name}"));
        let key = format!("{}\0{operation}\0{variables}", request.query);
        request = request.data(ValidationKey(key.into()));
    }
    request
}

/// The schema extension that keeps validation verdicts of requests [`prepare`] named.
pub struct ValidationCache {
    verdicts: Cache<Arc<str>, ValidationResult>,
    limits: QueryLimits,
}

impl ValidationCache {
    pub fn new(limits: QueryLimits) -> Self {
        Self {
            verdicts: Cache::new(VALIDATED),
            limits,
        }
    }
}

impl ExtensionFactory for ValidationCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Kept {
            verdicts: self.verdicts.clone(),
            limits: self.limits,
        })
    }
}

struct Kept {
    verdicts: Cache<Arc<str>, ValidationResult>,
    limits: QueryLimits,
}

impl Kept {
    fn within_limits(&self, verdict: &ValidationResult) -> bool {
        verdict.depth <= self.limits.max_depth && verdict.complexity <= self.limits.max_complexity
    }
}

#[async_trait::async_trait]
impl Extension for Kept {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let Some(ValidationKey(key)) = ctx.data_opt::<ValidationKey>() else {
            return next.run(ctx).await;
        };
        if let Some(verdict) = self.verdicts.get(key)
            && self.within_limits(&verdict)
        {
            return Ok(verdict);
        }
        let verdict = next.run(ctx).await?;
        self.verdicts.insert(key.clone(), verdict);
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
    use serde_json::json;

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        async fn double(&self, n: i32) -> i32 {
            n * 2
        }
    }

    /// Counts the validations that reach the schema's own rules.
    #[derive(Clone, Default)]
    struct Validations(Arc<AtomicUsize>);

    impl ExtensionFactory for Validations {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(self.clone())
        }
    }

    #[async_trait::async_trait]
    impl Extension for Validations {
        async fn validation(
            &self,
            ctx: &ExtensionContext<'_>,
            next: NextValidation<'_>,
        ) -> Result<ValidationResult, Vec<ServerError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            next.run(ctx).await
        }
    }

    fn schema(validations: &Validations) -> Schema<Query, EmptyMutation, EmptySubscription> {
        let limits = QueryLimits {
            max_depth: 3,
            max_complexity: 5,
            max_aliases: 10,
        };
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .limit_depth(limits.max_depth)
            .limit_complexity(limits.max_complexity)
            .extension(ValidationCache::new(limits))
            .extension(validations.clone())
            .finish()
    }

    async fn run(
        schema: &Schema<Query, EmptyMutation, EmptySubscription>,
        query: &str,
        variables: serde_json::Value,
    ) -> async_graphql::Response {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        schema.execute(prepare(request)).await
    }

    #[tokio::test]
    async fn a_request_seen_before_skips_validation_and_answers_the_same() {
        let validations = Validations::default();
        let schema = schema(&validations);
        let query = "query ($n: Int!) { double(n: $n) }";
        for _ in 0..3 {
            let response = run(&schema, query, json!({ "n": 21 })).await;
            assert_eq!(response.data.into_json().unwrap(), json!({ "double": 42 }));
        }
        assert_eq!(validations.0.load(Ordering::SeqCst), 1);
        // Other variables are validated on their own.
        let response = run(&schema, query, json!({ "n": 1 })).await;
        assert_eq!(response.data.into_json().unwrap(), json!({ "double": 2 }));
        assert_eq!(validations.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failing_requests_fail_every_time_as_request_errors() {
        let validations = Validations::default();
        let schema = schema(&validations);
        let query = "query ($n: Int!) { double(n: $n) }";
        run(&schema, query, json!({ "n": 21 })).await;
        // A value of the wrong type for a document already validated: still refused by
        // validation, before anything runs (no path, no data).
        for _ in 0..2 {
            let response = run(&schema, query, json!({ "n": "x" })).await;
            assert_eq!(response.data, async_graphql::Value::Null);
            assert!(response.errors[0].path.is_empty(), "{:?}", response.errors);
        }
        // Too complex: refused each time.
        let complex = "{ a: double(n: 1) b: double(n: 1) c: double(n: 1) d: double(n: 1) \
                       e: double(n: 1) f: double(n: 1) }";
        for _ in 0..2 {
            let response = run(&schema, complex, json!({})).await;
            assert_eq!(response.errors[0].message, "Query is too complex.");
        }
        assert_eq!(validations.0.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn an_empty_operation_name_is_not_taken_for_none() {
        let validations = Validations::default();
        let schema = schema(&validations);
        let query = "query A($n: Int!) { double(n: $n) }";
        // An empty name selects no operation: validation passes, the request fails after.
        let named = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(json!({ "n": "x" })))
            .operation_name("");
        let response = schema.execute(prepare(named)).await;
        assert!(!response.errors.is_empty());
        // The same without a name: its wrong value is still a validation error.
        let response = run(&schema, query, json!({ "n": "x" })).await;
        assert_eq!(response.data, async_graphql::Value::Null);
        assert!(response.errors[0].path.is_empty(), "{:?}", response.errors);
        assert!(
            response.errors[0].message.contains("Invalid value"),
            "{:?}",
            response.errors
        );
    }
}
