//! The analyst's surface through the real server: `lookups` filtered, paged and counted, CIDR
//! ranges queued by `enqueue`, and `Lookup.state` saying where a queued address stands and,
//! when its blocklist is paused, why and what to do.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use secworks_dnsbl::test_server::TestAnswer;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with_dns_down};

const LOOKUPS: &str = "query ($filter: LookupFilter, $first: Int, $after: String) {
    lookups(filter: $filter, first: $first, after: $after) {
      total_count
      edges { cursor node { ip_address listed response_code updated_at state
                            results { blocklist status } } }
      pageInfo { hasNextPage endCursor } } }";

async fn data(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = app.graphql_ok(token, query, variables).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// The one error `query` fails with.
async fn one_error(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = app.graphql_ok(token, query, variables).await;
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(errors.len(), 1, "{body}");
    errors[0].clone()
}

/// Every address `filter` finds, page by page (`first` each), newest change first; checks
/// `total_count` and `pageInfo` on each page.
async fn found(app: &TestApp, token: &str, filter: Value, first: i32) -> Vec<Value> {
    let mut after: Option<String> = None;
    let mut all = Vec::new();
    let mut total = None;
    loop {
        let page = data(
            app,
            token,
            LOOKUPS,
            json!({ "filter": filter, "first": first, "after": after }),
        )
        .await["lookups"]
            .clone();
        let count = page["total_count"].as_i64().unwrap();
        assert_eq!(
            *total.get_or_insert(count),
            count,
            "the same total on each page"
        );
        let edges = page["edges"].as_array().unwrap().clone();
        assert!(edges.len() <= first as usize);
        if let Some(last) = edges.last() {
            assert_eq!(page["pageInfo"]["endCursor"], last["cursor"]);
        }
        all.extend(edges.iter().map(|edge| edge["node"].clone()));
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(total, Some(all.len() as i64), "{filter}");
    all
}

fn addresses(nodes: &[Value]) -> Vec<&str> {
    let mut texts: Vec<&str> = nodes
        .iter()
        .map(|node| node["ip_address"].as_str().unwrap())
        .collect();
    texts.sort_unstable();
    texts
}

#[tokio::test]
async fn lookups_are_found_by_filter_paged_and_counted() {
    let app = spawn_app().await;
    let token = app.token().await;
    app.dns.set(
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        TestAnswer::Records(vec![Ipv4Addr::new(127, 0, 0, 2)]),
    );
    app.dns.set(
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5)),
        TestAnswer::Records(vec![
            Ipv4Addr::new(127, 0, 0, 4),
            Ipv4Addr::new(127, 0, 0, 10),
        ]),
    );
    let queued = data(
        &app,
        &token,
        "mutation ($ip: [String!]!) { enqueue(ip: $ip) }",
        json!({ "ip": ["192.0.2.0/29", "2001:db8::1", "192.0.2.3"] }),
    )
    .await;
    assert_eq!(
        queued["enqueue"], 10,
        "eight addresses of the /29, and two more"
    );
    app.wait_for_idle_queue(&token, Duration::from_secs(30))
        .await;

    // Everything, newest first, the same in pages of 3 as in one page.
    let all = found(&app, &token, Value::Null, 100).await;
    assert_eq!(all.len(), 9);
    let updated: Vec<&str> = all
        .iter()
        .map(|n| n["updated_at"].as_str().unwrap())
        .collect();
    assert!(updated.windows(2).all(|w| w[0] >= w[1]), "{updated:?}");
    assert_eq!(found(&app, &token, Value::Null, 3).await, all);
    assert!(all.iter().all(|node| node["state"] == "DONE"), "{all:?}");

    let listed = found(&app, &token, json!({ "listed": true }), 1).await;
    assert_eq!(addresses(&listed), ["192.0.2.2", "192.0.2.5"]);
    assert!(listed.iter().all(|node| node["listed"] == true
        && node["results"] == json!([{ "blocklist": "spamhaus-zen", "status": "LISTED" }])));
    assert_eq!(
        addresses(
            &found(
                &app,
                &token,
                json!({ "listed": false, "within": "192.0.2.0/30" }),
                50
            )
            .await
        ),
        ["192.0.2.0", "192.0.2.1", "192.0.2.3"]
    );
    assert_eq!(
        addresses(&found(&app, &token, json!({ "within": "2001:db8::/64" }), 50).await),
        ["2001:db8::1"]
    );
    assert_eq!(
        addresses(
            &found(
                &app,
                &token,
                json!({ "blocklist": "spamhaus-zen", "listed": true, "within": "192.0.2.4/30" }),
                50
            )
            .await
        ),
        ["192.0.2.5"]
    );
    data(
        &app,
        &token,
        "mutation { putWatchlist(name: \"mine\", targets: [\"192.0.2.2\", \"192.0.2.4/31\"]) { name } }",
        json!({}),
    )
    .await;
    assert_eq!(
        addresses(&found(&app, &token, json!({ "watchlist": "mine" }), 50).await),
        ["192.0.2.2", "192.0.2.4", "192.0.2.5"]
    );
    assert_eq!(
        addresses(
            &found(
                &app,
                &token,
                json!({ "watchlist": "mine", "listed": false }),
                50
            )
            .await
        ),
        ["192.0.2.4"]
    );
    assert_eq!(
        found(
            &app,
            &token,
            json!({ "changed_since": "2000-01-01T00:00:00Z" }),
            50
        )
        .await,
        all
    );
    assert!(
        found(
            &app,
            &token,
            json!({ "changed_since": "2999-01-01T00:00:00Z" }),
            50
        )
        .await
        .is_empty()
    );

    // Bad input: one error naming the field and what is wrong with it.
    let cases = [
        (
            json!({ "filter": { "within": "192.0.2.1/24" } }),
            "filter.within",
            "192.0.2.0/24",
        ),
        (
            json!({ "filter": { "within": "nowhere" } }),
            "filter.within",
            "not a CIDR range",
        ),
        (
            json!({ "filter": { "blocklist": "nope" } }),
            "filter.blocklist",
            "no blocklist",
        ),
        (
            json!({ "filter": { "blocklist": "spamcop" } }),
            "filter.blocklist",
            "not enabled",
        ),
        (
            json!({ "filter": { "watchlist": "absent" } }),
            "filter.watchlist",
            "no watchlist",
        ),
        (
            json!({ "filter": { "changed_since": "yesterday" } }),
            "filter.changed_since",
            "RFC 3339",
        ),
        (json!({ "first": 0 }), "first", "between 1 and 1000"),
        (json!({ "after": "not a cursor" }), "after", "not a cursor"),
    ];
    for (variables, field, problem) in cases {
        let error = one_error(&app, &token, LOOKUPS, variables.clone()).await;
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{field}`")) && message.contains(problem),
            "{variables}: {message}"
        );
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{variables}");
    }
}

#[tokio::test]
async fn enqueue_takes_ranges_counted_before_they_are_expanded() {
    let app = spawn_app().await;
    let token = app.token().await;
    let enqueue = "mutation ($ip: [String!]!) { enqueue(ip: $ip) }";
    let before = app.queue_status(&token).await;

    // Host bits set: the error names the entry and the range meant; nothing is queued.
    let error = one_error(
        &app,
        &token,
        enqueue,
        json!({ "ip": ["192.0.2.9", "192.0.2.1/24", "nope"] }),
    )
    .await;
    let message = error["message"].as_str().unwrap();
    assert_eq!(error["extensions"]["code"], "INVALID_IP_ADDRESS");
    assert!(
        message
            .contains("\"192.0.2.1/24\" at index 1: host bits are set; the range is 192.0.2.0/24"),
        "{message}"
    );
    assert!(message.contains("\"nope\" at index 2"), "{message}");
    assert_eq!(
        error["extensions"]["invalid"][0]["problem"],
        "host bits are set; the range is 192.0.2.0/24"
    );
    // Too many once expanded (the limit is 10,000 here), the whole IPv6 space included.
    for ranges in [
        json!(["10.0.0.0/8"]),
        json!(["::/0"]),
        json!(vec!["198.51.100.0/24"; 40]),
    ] {
        let error = one_error(&app, &token, enqueue, json!({ "ip": ranges })).await;
        assert_eq!(
            error["extensions"]["code"], "TOO_MANY_ADDRESSES",
            "{ranges}"
        );
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("once ranges are expanded"),
            "{error}"
        );
    }
    assert_eq!(app.queue_status(&token).await, before, "nothing was queued");

    let taken = data(
        &app,
        &token,
        enqueue,
        json!({ "ip": ["2001:db8::/126", "192.0.2.128/32"] }),
    )
    .await;
    assert_eq!(taken["enqueue"], 5);
    app.wait_for_idle_queue(&token, Duration::from_secs(30))
        .await;
    let v6 = found(&app, &token, json!({ "within": "2001:db8::/120" }), 50).await;
    assert_eq!(
        addresses(&v6),
        ["2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8::3"]
    );
}

#[tokio::test]
async fn a_queued_address_says_it_waits_why_and_what_to_do() {
    let app = spawn_app_with_dns_down().await;
    let token = app.token().await;
    let state =
        "query ($ip: String!) { getIpDetails(ip: $ip) { response_code state state_reason } }";
    let never = data(&app, &token, state, json!({ "ip": "192.0.2.10" })).await;
    assert_eq!(
        never["getIpDetails"],
        json!({ "response_code": "No records found.", "state": "NEVER_QUEUED", "state_reason": null })
    );
    app.enqueue(&token, &["192.0.2.9"]).await;
    // The test points fail (the resolver does not answer): the address waits, and says why.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let details = loop {
        let details =
            data(&app, &token, state, json!({ "ip": "192.0.2.9" })).await["getIpDetails"].clone();
        if details["state_reason"]
            .as_str()
            .is_some_and(|r| r.contains("SECWORKS_DNS_SERVER"))
        {
            break details;
        }
        assert!(tokio::time::Instant::now() < deadline, "{details}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(details["state"], "PAUSED", "{details}");
    assert_eq!(details["response_code"], "No records found.");
    let reason = details["state_reason"].as_str().unwrap();
    assert!(reason.contains("test point 127.0.0.2"), "{reason}");
    // A resolver that does not answer is named as such.
    assert!(reason.contains("did not answer"), "{reason}");
    // The queue, the blocklist and /readyz say the same.
    let status = app.queue_status(&token).await;
    assert!(
        status["paused_reason"]
            .as_str()
            .unwrap()
            .contains("SECWORKS_DNS_SERVER"),
        "{status}"
    );
    let lists = data(
        &app,
        &token,
        "{ blocklists { id paused_reason } }",
        json!({}),
    )
    .await;
    let zen = &lists["blocklists"][0];
    assert!(
        zen["paused_reason"]
            .as_str()
            .unwrap()
            .contains("SECWORKS_DNS_SERVER"),
        "{zen}"
    );
    // Paused lookups keep the service ready (reads and enqueueing work); /readyz says why.
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    let lookups = body["lookups"].as_str().unwrap();
    assert!(
        lookups.starts_with("paused: ") && lookups.contains("SECWORKS_DNS_SERVER"),
        "{body}"
    );
}

#[tokio::test]
async fn a_resolver_spamhaus_refuses_gets_the_way_out() {
    let app = spawn_app().await;
    let token = app.token().await;
    // What a public resolver gets from Spamhaus: NXDOMAIN for the listed test point.
    app.dns.set(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        TestAnswer::NxDomain,
    );
    app.enqueue(&token, &["192.0.2.9"]).await;
    let state = "query ($ip: String!) { getIpDetails(ip: $ip) { state state_reason } }";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let details =
            data(&app, &token, state, json!({ "ip": "192.0.2.9" })).await["getIpDetails"].clone();
        if details["state"] == "PAUSED"
            && details["state_reason"]
                .as_str()
                .is_some_and(|r| r.contains("test point"))
        {
            let reason = details["state_reason"].as_str().unwrap();
            assert!(reason.contains("127.0.0.2"), "{reason}");
            assert!(reason.contains("public resolvers"), "{reason}");
            assert!(
                reason.contains("SECWORKS_DNS_SERVER") && reason.contains("SECWORKS_DQS_KEY"),
                "{reason}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{details}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GET /export/lookups with `accept` and query `params`, as `token`.
async fn export(
    app: &TestApp,
    token: &str,
    accept: &str,
    params: &[(&str, &str)],
) -> reqwest::Response {
    app.client
        .get(app.url("/export/lookups"))
        .bearer_auth(token)
        .header("accept", accept)
        .query(params)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn exports_stream_csv_and_ndjson_in_address_order() {
    let app = spawn_app().await;
    let token = app.token().await;
    app.dns.set(
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        TestAnswer::Records(vec![
            Ipv4Addr::new(127, 0, 0, 2),
            Ipv4Addr::new(127, 0, 0, 4),
        ]),
    );
    // 192.0.2.0/28 holds .9 and .10: address order puts .10 after .9 (text order would not).
    app.enqueue(
        &token,
        &["2001:db8::1", "192.0.2.9", "192.0.2.10", "10.0.0.1"],
    )
    .await;
    app.wait_for_idle_queue(&token, Duration::from_secs(30))
        .await;

    let csv_response = export(&app, &token, "text/csv", &[]).await;
    assert_eq!(csv_response.status(), 200);
    assert_eq!(
        csv_response.headers()["content-type"],
        "text/csv; charset=utf-8; header=present"
    );
    let text = csv_response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "ip_address",
            "listed",
            "listed_on",
            "response_code",
            "updated_at",
            "created_at",
            "uuid"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let column = |i: usize| rows.iter().map(|r| r[i].to_owned()).collect::<Vec<_>>();
    assert_eq!(
        column(0),
        ["10.0.0.1", "192.0.2.9", "192.0.2.10", "2001:db8::1"]
    );
    assert_eq!(column(1), ["false", "false", "true", "false"]);
    assert_eq!(column(2), ["", "", "spamhaus-zen", ""]);
    // The comma inside the response code is quoted, and reads back whole.
    assert_eq!(rows[2][3], *"127.0.0.2, 127.0.0.4");
    assert!(text.contains("\"127.0.0.2, 127.0.0.4\""), "{text}");
    let details = app.details(&token, "192.0.2.10").await;
    assert_eq!(rows[2][4], *details["updated_at"].as_str().unwrap());
    assert_eq!(rows[2][6], *details["uuid"].as_str().unwrap());

    // NDJSON, filtered: one object per line.
    let ndjson = export(
        &app,
        &token,
        "application/x-ndjson",
        &[("within", "192.0.2.0/24"), ("listed", "true")],
    )
    .await;
    assert_eq!(ndjson.status(), 200);
    assert_eq!(ndjson.headers()["content-type"], "application/x-ndjson");
    let body = ndjson.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{body}");
    assert_eq!(lines[0]["ip_address"], "192.0.2.10");
    assert_eq!(lines[0]["listed"], true);
    assert_eq!(lines[0]["listed_on"], json!(["spamhaus-zen"]));
    assert_eq!(lines[0]["response_code"], "127.0.0.2, 127.0.0.4");
    // An export that finds nothing: the header alone, or nothing.
    assert_eq!(
        export(&app, &token, "*/*", &[("within", "198.51.100.0/24")])
            .await
            .text()
            .await
            .unwrap(),
        "ip_address,listed,listed_on,response_code,updated_at,created_at,uuid\n"
    );
    assert_eq!(
        export(
            &app,
            &token,
            "application/x-ndjson",
            &[("within", "198.51.100.0/24")]
        )
        .await
        .text()
        .await
        .unwrap(),
        ""
    );

    // The generated OpenAPI client downloads the same bytes.
    let generated = crate::clients::rest::bearer(&app.base, &token)
        .export_lookups()
        .send()
        .await
        .expect("an export");
    assert_eq!(generated.status(), 200);
    let mut stream = generated.into_inner().into_inner();
    let mut downloaded = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        downloaded.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(String::from_utf8(downloaded).unwrap(), text);
}

#[tokio::test]
async fn exports_refuse_before_the_first_byte_and_say_why() {
    let app = spawn_app().await;
    let token = app.token().await;
    let refusal = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (
            status,
            body["error"].as_str().unwrap().to_owned(),
            body["message"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let (status, error, message) =
        refusal(export(&app, &token, "text/csv", &[("within", "192.0.2.1/24")]).await).await;
    assert_eq!((status, error.as_str()), (400, "Bad Request"));
    assert!(
        message.contains("query parameter `within`") && message.contains("192.0.2.0/24"),
        "{message}"
    );
    let (status, _, message) =
        refusal(export(&app, &token, "text/csv", &[("watchlist", "absent")]).await).await;
    assert_eq!(status, 400);
    assert!(
        message.contains("`watchlist`") && message.contains("no watchlist"),
        "{message}"
    );
    let (status, error, message) =
        refusal(export(&app, &token, "application/json", &[]).await).await;
    assert_eq!((status, error.as_str()), (406, "Not Acceptable"));
    assert!(
        message.contains("text/csv") && message.contains("application/x-ndjson"),
        "{message}"
    );
    // A token without the read scope.
    let narrow: Value = app
        .client
        .post(app.url("/graphql/tokens?scope=lookup"))
        .basic_auth(crate::helpers::USER, Some(crate::helpers::PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let narrow = narrow["token"].as_str().unwrap();
    let (status, error, message) = refusal(export(&app, narrow, "text/csv", &[]).await).await;
    assert_eq!((status, error.as_str()), (403, "Forbidden"));
    assert!(message.contains("`read`"), "{message}");
    let anonymous = app
        .client
        .get(app.url("/export/lookups"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
}
