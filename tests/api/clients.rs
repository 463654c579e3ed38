//! The clients our users generate from the published contract: a progenitor client built from
//! openapi.yaml and cynic operations checked against schema.graphql, both at compile time. A
//! change to either file that breaks them breaks this build.

/// The REST client (tokens, export), generated from openapi.yaml.
pub mod rest {
    progenitor::generate_api!(spec = "openapi.yaml", interface = Builder);

    /// A client that sends `authorization` (a full header value) with every request.
    pub fn with_authorization(base: &str, authorization: &str) -> Client {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = reqwest::header::HeaderValue::from_str(authorization)
            .expect("an authorization header value");
        headers.insert(reqwest::header::AUTHORIZATION, value);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("a reqwest client");
        Client::new_with_client(base, http)
    }

    pub fn basic(base: &str, user: &str, password: &str) -> Client {
        use base64::Engine;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        with_authorization(base, &format!("Basic {credentials}"))
    }

    pub fn bearer(base: &str, token: &str) -> Client {
        with_authorization(base, &format!("Bearer {token}"))
    }
}

/// GraphQL operations, checked field by field against schema.graphql.
pub mod graphql {
    mod schema {
        cynic::use_schema!("schema.graphql");
    }

    #[derive(cynic::QueryVariables)]
    pub struct IpVariables {
        pub ip: String,
    }

    #[derive(cynic::QueryFragment, Debug, serde::Serialize)]
    #[cynic(
        schema_path = "schema.graphql",
        graphql_type = "Query",
        variables = "IpVariables"
    )]
    pub struct IpDetails {
        #[arguments(ip: $ip)]
        #[cynic(rename = "getIpDetails")]
        pub get_ip_details: Option<Lookup>,
    }

    #[derive(cynic::QueryFragment, Debug, serde::Serialize)]
    #[cynic(schema_path = "schema.graphql", rename_all = "None")]
    pub struct Lookup {
        pub uuid: Option<cynic::Id>,
        pub created_at: Option<String>,
        pub updated_at: Option<String>,
        pub response_code: String,
        pub ip_address: String,
        pub listed: Option<bool>,
        pub last_error: Option<String>,
        pub listings: Vec<Listing>,
        #[arguments(limit: 5)]
        pub history: Vec<LookupAttempt>,
    }

    #[derive(cynic::QueryFragment, Debug, serde::Serialize)]
    #[cynic(schema_path = "schema.graphql", rename_all = "None")]
    pub struct Listing {
        pub list: String,
        pub return_code: String,
        pub description: String,
    }

    #[derive(cynic::QueryFragment, Debug, serde::Serialize)]
    #[cynic(schema_path = "schema.graphql", rename_all = "None")]
    pub struct LookupAttempt {
        pub looked_up_at: String,
        pub response_code: Option<String>,
        pub listed: Option<bool>,
        pub error: Option<String>,
    }

    #[derive(cynic::QueryFragment, Debug)]
    #[cynic(schema_path = "schema.graphql", graphql_type = "Query")]
    pub struct Queue {
        #[cynic(rename = "queueStatus")]
        pub queue_status: QueueStatus,
    }

    #[derive(cynic::QueryFragment, Debug, serde::Serialize)]
    #[cynic(schema_path = "schema.graphql", rename_all = "None")]
    pub struct QueueStatus {
        pub pending: i32,
        pub running: i32,
        pub done: i32,
        pub failed: i32,
        pub paused: bool,
        pub paused_reason: Option<String>,
    }

    #[derive(cynic::QueryVariables)]
    pub struct EnqueueVariables {
        pub ip: Vec<String>,
    }

    #[derive(cynic::QueryFragment, Debug)]
    #[cynic(
        schema_path = "schema.graphql",
        graphql_type = "Mutation",
        variables = "EnqueueVariables"
    )]
    pub struct Enqueue {
        #[arguments(ip: $ip)]
        pub enqueue: Option<i32>,
    }

    /// Runs `operation` with `token`; the HTTP status must be 200.
    pub async fn run<Q, V>(
        base: &str,
        token: &str,
        operation: cynic::Operation<Q, V>,
    ) -> cynic::GraphQlResponse<Q>
    where
        Q: serde::de::DeserializeOwned + 'static,
        V: serde::Serialize,
    {
        use cynic::http::ReqwestExt;
        reqwest::Client::new()
            .post(format!("{base}/graphql"))
            .bearer_auth(token)
            .run_graphql(operation)
            .await
            .expect("a GraphQL response")
    }
}
