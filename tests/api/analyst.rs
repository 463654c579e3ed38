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
    assert!(reason.contains("SECWORKS_DQS_KEY"), "{reason}");
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
            .contains("SECWORKS_DQS_KEY"),
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
