//! `POST /graphql`: the original's queries and mutations, validation, and request errors.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with_dns_down};

const DETAILS: &str = "query ($ip: String!) {
  getIpDetails(ip: $ip) { uuid created_at updated_at response_code ip_address }
}";
const ENQUEUE: &str = "mutation ($ip: [String!]!) { enqueue(ip: $ip) }";

#[tokio::test]
async fn an_address_never_looked_up_has_no_records() {
    let app = spawn_app().await;
    let token = app.token().await;
    for (asked, shown) in [("1.2.3.4", "1.2.3.4"), ("2001:DB8:0::2", "2001:db8::2")] {
        let body = app
            .graphql_ok(&token, DETAILS, json!({ "ip": asked }))
            .await;
        assert_eq!(
            body,
            json!({ "data": { "getIpDetails": {
                "uuid": null, "created_at": null, "updated_at": null,
                "response_code": "No records found.", "ip_address": shown,
            } } })
        );
    }
}

#[tokio::test]
async fn get_ip_details_names_an_invalid_address() {
    let app = spawn_app().await;
    let token = app.token().await;
    let body = app
        .graphql_ok(&token, DETAILS, json!({ "ip": "999.1.1.1" }))
        .await;
    assert_eq!(body["data"], json!({ "getIpDetails": null }));
    let error = &body["errors"][0];
    assert_eq!(
        error["message"],
        "argument `ip`: \"999.1.1.1\" is not an IPv4 or IPv6 address"
    );
    assert_eq!(error["extensions"]["code"], "INVALID_IP_ADDRESS");
    assert_eq!(error["path"], json!(["getIpDetails"]));
}

#[tokio::test]
async fn enqueue_queues_every_address_in_canonical_form() {
    // With the blocklist unreachable the jobs stay queued, so the queue itself can be seen.
    let app = spawn_app_with_dns_down().await;
    let token = app.token().await;
    let ips = [
        "127.0.0.2",
        "2001:0db8::0002",
        "::ffff:192.0.2.1",
        "127.0.0.2",
    ];
    let body = app.graphql_ok(&token, ENQUEUE, json!({ "ip": ips })).await;
    assert_eq!(body, json!({ "data": { "enqueue": 4 } }));
    // A pending duplicate joins the job that waits already.
    assert_eq!(app.count_rows("SELECT count(*) FROM lookup_jobs").await, 3);
    for stored in ["127.0.0.2", "2001:db8::2", "192.0.2.1"] {
        let sql = format!(
            "SELECT count(*) FROM lookup_jobs WHERE target = '{stored}' AND state = 'pending'"
        );
        assert_eq!(app.count_rows(&sql).await, 1, "{stored}");
    }
    // Enqueueing again while they wait adds nothing.
    app.graphql_ok(&token, ENQUEUE, json!({ "ip": ["127.0.0.2"] }))
        .await;
    assert_eq!(app.count_rows("SELECT count(*) FROM lookup_jobs").await, 3);
    // Nothing pretends to be a result while the blocklist cannot be asked.
    assert_eq!(app.count_rows("SELECT count(*) FROM lookups").await, 0);
    let status = app.queue_status(&token).await;
    assert_eq!(status["pending"], 3, "{status}");
    assert_eq!(status["paused"], true, "{status}");
}

#[tokio::test]
async fn enqueue_with_a_bad_entry_names_each_and_queues_nothing() {
    let app = spawn_app().await;
    let token = app.token().await;
    let ips = ["127.0.0.2", "not-an-ip", "10.0.0.1", "1.2.3.4.5", "::1"];
    let body = app.graphql_ok(&token, ENQUEUE, json!({ "ip": ips })).await;
    assert_eq!(body["data"], json!({ "enqueue": null }));
    let error = &body["errors"][0];
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("\"not-an-ip\" at index 1"), "{message}");
    assert!(message.contains("\"1.2.3.4.5\" at index 3"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(
        error["extensions"]["invalid"],
        json!([{ "index": 1, "value": "not-an-ip" }, { "index": 3, "value": "1.2.3.4.5" }])
    );
    assert_eq!(app.count_rows("SELECT count(*) FROM lookup_jobs").await, 0);
}

#[tokio::test]
async fn request_errors_answer_400() {
    let app = spawn_app().await;
    let token = app.token().await;
    for query in [
        "{ getIpDetails(ip: \"1.1.1.1\") { response_code ",
        "{ getIpDetails(ip: \"1.1.1.1\") { responseCode } }",
        "{ nosuchField }",
        "mutation { enqueue(ip: 5) }",
    ] {
        let resp = app.graphql(&token, query, json!({})).await;
        assert_eq!(resp.status(), 400, "{query}");
        let body: Value = resp.json().await.unwrap();
        assert!(body.get("data").is_none(), "{body}");
        assert!(!body["errors"].as_array().unwrap().is_empty(), "{body}");
    }
    let not_json = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let body: Value = not_json.json().await.unwrap();
    assert!(body["errors"][0]["message"].is_string());
}

#[tokio::test]
async fn answers_in_the_media_type_asked_for() {
    let app = spawn_app().await;
    let token = app.token().await;
    let query = json!({ "query": "{ getIpDetails(ip: \"1.1.1.1\") { ip_address } }" });
    let plain = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.headers()["content-type"], "application/json");
    let modern = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .header("accept", "application/graphql-response+json")
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(
        modern.headers()["content-type"],
        "application/graphql-response+json"
    );
}

#[tokio::test]
async fn oversized_and_non_json_requests_are_refused_with_a_reason() {
    let app = spawn_app().await;
    let token = app.token().await;
    let post = || app.client.post(app.url("/graphql")).bearer_auth(&token);

    let huge = json!({ "query": format!("{{ getIpDetails(ip: \"{}\") {{ ip_address }} }}", "1".repeat(1 << 20)) });
    let resp = post().json(&huge).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("larger than"),
        "{body}"
    );

    let resp = post()
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("multipart/form-data"),
        "{body}"
    );
}

#[tokio::test]
async fn enqueue_takes_at_most_ten_thousand_addresses() {
    let app = spawn_app_with_dns_down().await;
    let token = app.token().await;
    let ips: Vec<String> = (0..10_001)
        .map(|i| format!("10.9.{}.{}", i / 256, i % 256))
        .collect();
    let body = app.graphql_ok(&token, ENQUEUE, json!({ "ip": ips })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "TOO_MANY_ADDRESSES",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("10001 addresses"),
        "{body}"
    );
    assert_eq!(app.count_rows("SELECT count(*) FROM lookup_jobs").await, 0);
    let body = app
        .graphql_ok(&token, ENQUEUE, json!({ "ip": &ips[..10_000] }))
        .await;
    assert_eq!(body["data"]["enqueue"], 10_000);
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let app = spawn_app_with_dns_down().await;
    let token = app.token().await;
    let get = |params: Vec<(&'static str, String)>| {
        app.client
            .get(app.url("/graphql"))
            .bearer_auth(&token)
            .query(&params)
            .send()
    };
    let resp = get(vec![
        ("query", DETAILS.to_owned()),
        ("variables", json!({ "ip": "1.2.3.4" }).to_string()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["data"]["getIpDetails"]["response_code"],
        "No records found."
    );

    let resp = get(vec![
        ("query", ENQUEUE.to_owned()),
        ("variables", json!({ "ip": ["1.2.3.4"] }).to_string()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("POST"),
        "{body}"
    );
    assert_eq!(app.count_rows("SELECT count(*) FROM lookup_jobs").await, 0);

    let resp = get(vec![("query", "{ getIpDetails(ip: ".to_owned())])
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let anonymous = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", DETAILS)])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn the_published_schema_is_served() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/graphql/schema.graphql"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let published =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(resp.text().await.unwrap(), published);

    // /docs itself: contract::docs_are_served_whole_from_the_binary_and_call_no_other_host.
}

/// The introspection query GraphiQL and client generators send (graphql-js
/// `getIntrospectionQuery()` with descriptions).
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

#[tokio::test]
async fn oversized_queries_are_refused_before_they_run_and_introspection_passes() {
    let app = spawn_app().await;
    let token = app.token().await;

    let body = app.graphql_ok(&token, INTROSPECTION, json!({})).await;
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"], "Query",
        "{body}"
    );

    let aliases: String = (0..2000)
        .map(|i| format!("a{i}: getIpDetails(ip: \"1.1.1.1\") {{ ip_address }} "))
        .collect();
    refused(&app, &token, &format!("{{ {aliases} }}"), "2000 aliases").await;

    refused(&app, &token, &nested_type_query(200), "recursion").await;
}

#[tokio::test]
async fn the_tightest_allowed_limits_still_pass_introspection() {
    let db = crate::helpers::TestDb::new().await;
    let dns = crate::helpers::start_dns().await;
    let mut config = crate::helpers::test_config(&db, &dns);
    config.query_limits = secworks::graphql::QueryLimits {
        max_depth: 14,
        max_complexity: 200,
        max_aliases: 3,
    };
    let app = crate::helpers::spawn_with(config, dns).await;
    let token = app.token().await;
    let body = app.graphql_ok(&token, INTROSPECTION, json!({})).await;
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"], "Query",
        "{body}"
    );

    refused(&app, &token, &nested_type_query(12), "too deep").await;

    let aliased = |n: usize| -> String {
        let fields: String = (0..n)
            .map(|i| format!("a{i}: getIpDetails(ip: \"1.1.1.{i}\") {{ ip_address }} "))
            .collect();
        format!("{{ {fields} }}")
    };
    let body = app.graphql_ok(&token, &aliased(3), json!({})).await;
    assert_eq!(body["data"]["a2"]["ip_address"], "1.1.1.2", "{body}");
    refused(
        &app,
        &token,
        &aliased(4),
        "4 aliases, more than the 3 allowed",
    )
    .await;
    // Aliases in fragments count as well; one is within the limit.
    let fragment = "query { ...F } fragment F on Query { a: queueStatus { pending } }";
    let body = app.graphql_ok(&token, fragment, json!({})).await;
    assert!(body["data"]["a"]["pending"].is_number(), "{body}");
}

#[tokio::test]
async fn the_request_limits_follow_their_settings() {
    let db = crate::helpers::TestDb::new().await;
    let dns = crate::helpers::start_dns().await;
    dns.set_down(true);
    let mut config = crate::helpers::test_config(&db, &dns);
    config.max_enqueue = 3;
    config.max_body_bytes = 2048;
    let app = crate::helpers::spawn_with(config, dns).await;
    let token = app.token().await;

    let body = app
        .graphql_ok(
            &token,
            ENQUEUE,
            json!({ "ip": ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"] }),
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3 per request"),
        "{body}"
    );
    assert_eq!(app.count_rows("SELECT count(*) FROM lookup_jobs").await, 0);
    let body = app
        .graphql_ok(
            &token,
            ENQUEUE,
            json!({ "ip": ["1.1.1.1", "1.1.1.2", "1.1.1.3"] }),
        )
        .await;
    assert_eq!(body["data"]["enqueue"], 3);

    let padded = json!({ "query": format!("{{ getIpDetails(ip: \"1.1.1.1\") {{ ip_address }} }} #{}", "x".repeat(2048)) });
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&padded)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2048 bytes"),
        "{body}"
    );
}

/// An introspection query `levels` of `ofType` deep (depth `levels + 3`).
fn nested_type_query(levels: usize) -> String {
    format!(
        "{{ __schema {{ types {}{{ name }}{} }} }}",
        "{ ofType ".repeat(levels),
        " }".repeat(levels)
    )
}

/// Asserts that `query` is refused with 400 and a message containing `says`.
async fn refused(app: &crate::helpers::TestApp, token: &str, query: &str, says: &str) {
    let resp = app.graphql(token, query, json!({})).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    let message = body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(message.contains(says), "{body}");
}
