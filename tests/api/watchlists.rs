//! Watchlists and the listing-event log through the real server: a watchlist of an address,
//! a /30 and a domain; lookups against the test DNS server playing the catalogue while its
//! answers flip (listed, not listed, an error, listed again, other codes); `listingEvents`
//! paged and filtered; and the errors bad input gets.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use secworks::blocklists::{BlocklistSettings, Blocklists};
use secworks_dnsbl::test_server::TestAnswer;
use secworks_dnsbl::{Catalogue, Target};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, spawn_with, test_config};

const WATCHLIST: &str = "fragment W on Watchlist {
    name targets interval target_count listed_count created_at updated_at }";

const EVENTS: &str = "query ($after: String, $first: Int, $watchlist: String) {
    listingEvents(after: $after, first: $first, watchlist: $watchlist) {
      edges { cursor node { id cursor at target blocklist change return_codes
                            previous_return_codes reason delist_url } }
      pageInfo { hasNextPage endCursor } } }";

struct WatchApp {
    app: TestApp,
    token: String,
    catalogue: Catalogue,
    _db: TestDb,
}

async fn spawn() -> WatchApp {
    let db = TestDb::new().await;
    let catalogue = Catalogue::builtin().unwrap();
    let dns = Arc::new(
        secworks_dnsbl::test_server::TestDnsServer::start_catalogue(&catalogue, None)
            .await
            .expect("DNS server starts"),
    );
    let mut config = test_config(&db, &dns);
    config.blocklists = Arc::new(
        Blocklists::new(&BlocklistSettings {
            enabled: Some("spamhaus-zen,spamhaus-dbl".to_owned()),
            ..BlocklistSettings::default()
        })
        .unwrap(),
    );
    let app = spawn_with(config, dns).await;
    let token = app.token().await;
    WatchApp {
        app,
        token,
        catalogue,
        _db: db,
    }
}

fn records(last: &[u8], third: u8) -> TestAnswer {
    TestAnswer::Records(
        last.iter()
            .map(|&o| Ipv4Addr::new(127, 0, third, o))
            .collect(),
    )
}

impl WatchApp {
    fn answer(&self, list: &str, target: &str, answer: TestAnswer) {
        let list = self.catalogue.get(list).unwrap();
        self.app
            .dns
            .answer(list, &Target::parse(target).unwrap(), answer)
            .unwrap();
    }

    async fn query(&self, query: &str, variables: Value) -> Value {
        self.app.graphql_ok(&self.token, query, variables).await
    }

    /// Runs `query`, which must succeed; returns its `data`.
    async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    /// Runs `query`, which must fail with one error; returns it.
    async fn error(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(errors.len(), 1, "{body}");
        errors[0].clone()
    }

    async fn enqueue(&self, ips: &[&str], domains: &[&str]) {
        let data = self
            .data(
                "mutation ($ip: [String!]!, $domain: [String!]!) {
                   enqueue(ip: $ip) enqueueDomains(domain: $domain) }",
                json!({ "ip": ips, "domain": domains }),
            )
            .await;
        assert_eq!(data["enqueue"], ips.len());
        self.app
            .wait_for_idle_queue(&self.token, Duration::from_secs(20))
            .await;
    }

    async fn events(&self, after: Option<&str>, first: i32, watchlist: Option<&str>) -> Value {
        let data = self
            .data(
                EVENTS,
                json!({ "after": after, "first": first, "watchlist": watchlist }),
            )
            .await;
        data["listingEvents"].clone()
    }

    /// Every event after `after` (of `watchlist`), in pages of `first`, checking each page's
    /// `pageInfo`.
    async fn all_events(&self, first: i32, watchlist: Option<&str>) -> Vec<Value> {
        let mut after: Option<String> = None;
        let mut all = Vec::new();
        loop {
            let page = self.events(after.as_deref(), first, watchlist).await;
            let edges = page["edges"].as_array().unwrap().clone();
            let info = &page["pageInfo"];
            if edges.is_empty() {
                assert_eq!(info, &json!({ "hasNextPage": false, "endCursor": null }));
                return all;
            }
            assert_eq!(info["endCursor"], edges.last().unwrap()["cursor"]);
            for edge in &edges {
                assert_eq!(edge["cursor"], edge["node"]["cursor"]);
                all.push(edge["node"].clone());
            }
            let more = info["hasNextPage"].as_bool().unwrap();
            after = Some(info["endCursor"].as_str().unwrap().to_owned());
            if !more {
                // Nothing after the last page.
                let rest = self.events(after.as_deref(), first, watchlist).await;
                assert_eq!(rest["edges"], json!([]));
                return all;
            }
        }
    }
}

/// (target, list, change, codes, previous codes) of each event.
fn summary(events: &[Value]) -> Vec<(String, String, String, Value, Value)> {
    events
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap().to_owned(),
                e["blocklist"].as_str().unwrap().to_owned(),
                e["change"].as_str().unwrap().to_owned(),
                e["return_codes"].clone(),
                e["previous_return_codes"].clone(),
            )
        })
        .collect()
}

fn event(
    target: &str,
    list: &str,
    change: &str,
    codes: &[&str],
    previous: &[&str],
) -> (String, String, String, Value, Value) {
    (
        target.to_owned(),
        list.to_owned(),
        change.to_owned(),
        json!(codes),
        json!(previous),
    )
}

#[tokio::test]
async fn listing_changes_of_watched_targets_are_logged_in_order() {
    let t = spawn().await;
    let put = t
        .data(
            &format!(
                "mutation ($targets: [String!]!) {{
                   putWatchlist(name: \"mail\", targets: $targets) {{ ...W }} }} {WATCHLIST}"
            ),
            json!({ "targets": ["bad.EXAMPLE", "198.51.100.0/30", "192.0.2.1", "192.0.2.1"] }),
        )
        .await;
    let watchlist = &put["putWatchlist"];
    assert_eq!(
        watchlist["targets"],
        json!(["192.0.2.1", "198.51.100.0/30", "bad.example"])
    );
    assert_eq!(watchlist["interval"], "6h");
    assert_eq!(
        (&watchlist["target_count"], &watchlist["listed_count"]),
        (&json!(6), &json!(0))
    );
    assert_eq!(watchlist["created_at"], watchlist["updated_at"]);

    // Listed: one address, one of the range, the domain, and an address not watched.
    t.answer("spamhaus-zen", "192.0.2.1", records(&[2], 0));
    t.answer("spamhaus-zen", "198.51.100.1", records(&[4], 0));
    t.answer("spamhaus-zen", "203.0.113.7", records(&[2], 0));
    t.answer("spamhaus-dbl", "bad.example", records(&[2], 1));
    let range = [
        "198.51.100.0",
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
    ];
    let mut ips = vec!["192.0.2.1", "203.0.113.7"];
    ips.extend(range);
    t.enqueue(&ips, &["bad.example"]).await;
    let first = t.all_events(100, None).await;
    let mut listed = summary(&first);
    listed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(
        listed,
        [
            event("192.0.2.1", "spamhaus-zen", "LISTED", &["127.0.0.2"], &[]),
            event(
                "198.51.100.1",
                "spamhaus-zen",
                "LISTED",
                &["127.0.0.4"],
                &[]
            ),
            event("203.0.113.7", "spamhaus-zen", "LISTED", &["127.0.0.2"], &[]),
            event("bad.example", "spamhaus-dbl", "LISTED", &["127.0.1.2"], &[]),
        ]
    );
    let delist_url = t.catalogue.get("spamhaus-zen").unwrap().lookup_url.clone();
    assert!(first.iter().all(|e| e["delist_url"].is_string()));
    assert!(first.iter().any(|e| e["delist_url"] == json!(delist_url)));
    let read = t
        .data(
            &format!(
                "{{ watchlist(name: \"mail\") {{ ...W }} watchlists {{ name }} }} {WATCHLIST}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(read["watchlist"]["listed_count"], 3);
    assert_eq!(read["watchlists"], json!([{ "name": "mail" }]));

    // Not listed any more; then a DNS failure, which must not look like anything; then
    // listed again with another code, then other codes.
    t.answer("spamhaus-zen", "192.0.2.1", TestAnswer::NxDomain);
    t.enqueue(&["192.0.2.1"], &[]).await;
    t.answer("spamhaus-zen", "192.0.2.1", TestAnswer::ServFail);
    t.enqueue(&["192.0.2.1"], &[]).await;
    let after_error = t.all_events(100, None).await;
    assert_eq!(
        after_error.len(),
        5,
        "an error made an event: {after_error:?}"
    );
    t.answer("spamhaus-zen", "192.0.2.1", records(&[10], 0));
    t.enqueue(&["192.0.2.1"], &[]).await;
    t.answer("spamhaus-zen", "192.0.2.1", records(&[3, 10], 0));
    t.enqueue(&["192.0.2.1"], &[]).await;
    // The same answer again: no event.
    t.enqueue(&["192.0.2.1"], &[]).await;

    // In pages of two, every event once, ids and cursors rising.
    let all = t.all_events(2, None).await;
    assert_eq!(all[..4], first[..]);
    assert_eq!(
        summary(&all[4..]),
        [
            event("192.0.2.1", "spamhaus-zen", "DELISTED", &[], &["127.0.0.2"]),
            event("192.0.2.1", "spamhaus-zen", "LISTED", &["127.0.0.10"], &[]),
            event(
                "192.0.2.1",
                "spamhaus-zen",
                "CHANGED",
                &["127.0.0.3", "127.0.0.10"],
                &["127.0.0.10"]
            ),
        ]
    );
    assert!(all[4]["delist_url"].is_null());
    assert_eq!(all[6]["delist_url"], json!(delist_url));
    let ids: Vec<u64> = all
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(all.iter().all(|e| e["id"] == e["cursor"]));
    let at = all[6]["at"].as_str().unwrap();
    assert!(at.ends_with('Z') && at.len() == 27, "{at}");

    // The watchlist's events: all but the unwatched address's, also in pages of one.
    let watched = t.all_events(1, Some("mail")).await;
    assert_eq!(watched.len(), 6);
    assert!(watched.iter().all(|e| e["target"] != "203.0.113.7"));
    let page = t.events(None, 2, Some("mail")).await;
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["edges"].as_array().unwrap().len(), 2);
    t.app.stop().await;
}

#[tokio::test]
async fn watchlists_change_whole_and_bad_input_changes_nothing() {
    let t = spawn().await;
    let put = |targets: Value, interval: &str| json!({ "targets": targets, "interval": interval });
    let put_query = format!(
        "mutation ($targets: [String!]!, $interval: String) {{
           putWatchlist(name: \"edge\", targets: $targets, interval: $interval) {{ ...W }} }}
         {WATCHLIST}"
    );
    let created = t
        .data(
            &put_query,
            put(json!(["192.0.2.0/30", "2001:db8::1"]), "90m"),
        )
        .await["putWatchlist"]
        .clone();
    assert_eq!(created["interval"], "90m");
    assert_eq!(created["target_count"], 5);

    // Every bad entry named, with its index and what is wrong; nothing written.
    let error = t
        .error(
            &put_query,
            put(
                json!([
                    "ok.example",
                    "10.0.0.0/8",
                    "192.0.2.1/24",
                    "nope",
                    "2001:db8::/64"
                ]),
                "1h",
            ),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "INVALID_TARGET", "{error}");
    let invalid = error["extensions"]["invalid"].as_array().unwrap();
    let at: Vec<_> = invalid
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(at, [1, 2, 3, 4]);
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("no wider than /16"), "{message}");
    assert!(message.contains("the range is 192.0.2.0/24"), "{message}");
    assert!(message.contains("\"nope\" at index 3"), "{message}");
    assert!(message.contains("no wider than /112"), "{message}");
    for (interval, why) in [
        ("30s", "shorter than a minute"),
        ("31d", "longer than 30 days"),
        ("often", "not a duration"),
    ] {
        let error = t
            .error(&put_query, put(json!(["192.0.2.9"]), interval))
            .await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with("argument `interval`: ") && message.contains(why),
            "{message}"
        );
    }
    let error = t
        .error(
            &format!("mutation {{ putWatchlist(name: \"Bad Name\", targets: []) {{ ...W }} }} {WATCHLIST}"),
            json!({}),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("lower-case letter"),
        "{error}"
    );
    let unchanged = t
        .data(
            &format!("{{ watchlist(name: \"edge\") {{ ...W }} }} {WATCHLIST}"),
            json!({}),
        )
        .await;
    assert_eq!(unchanged["watchlist"], created);

    // Add and remove; an unknown watchlist is an error naming it.
    let add = format!(
        "mutation ($name: String!, $targets: [String!]!) {{
           addWatchTargets(name: $name, targets: $targets) {{ ...W }} }} {WATCHLIST}"
    );
    let remove = format!(
        "mutation ($name: String!, $targets: [String!]!) {{
           removeWatchTargets(name: $name, targets: $targets) {{ ...W }} }} {WATCHLIST}"
    );
    let added = t
        .data(
            &add,
            json!({ "name": "edge", "targets": ["example.org", "192.0.2.1"] }),
        )
        .await["addWatchTargets"]
        .clone();
    assert_eq!(
        added["targets"],
        json!(["192.0.2.0/30", "192.0.2.1", "2001:db8::1", "example.org"])
    );
    assert_eq!(
        (&added["target_count"], &added["created_at"]),
        (&json!(6), &created["created_at"])
    );
    let removed = t
        .data(
            &remove,
            json!({ "name": "edge", "targets": ["192.0.2.0/30", "203.0.113.1"] }),
        )
        .await["removeWatchTargets"]
        .clone();
    assert_eq!(
        removed["targets"],
        json!(["192.0.2.1", "2001:db8::1", "example.org"])
    );
    assert_eq!(removed["target_count"], 3);
    for query in [&add, &remove] {
        let error = t
            .error(query, json!({ "name": "ghost", "targets": ["192.0.2.1"] }))
            .await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
        assert!(
            error["message"].as_str().unwrap().contains("\"ghost\""),
            "{error}"
        );
    }

    // listingEvents' arguments.
    for (variables, argument) in [
        (json!({ "after": "abc" }), "after"),
        (json!({ "after": "-1" }), "after"),
        (json!({ "first": 0 }), "first"),
        (json!({ "first": 1001 }), "first"),
        (json!({ "watchlist": "ghost" }), "watchlist"),
        (json!({ "watchlist": "NOT A NAME" }), "watchlist"),
    ] {
        let error = t.error(EVENTS, variables).await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("argument `{argument}`: ")),
            "{message}"
        );
    }
    let empty = t.events(None, 1000, Some("edge")).await;
    assert_eq!(
        empty,
        json!({ "edges": [], "pageInfo": { "hasNextPage": false, "endCursor": null } })
    );

    // Deleting.
    let deleted = t
        .data(
            "mutation { a: deleteWatchlist(name: \"edge\") b: deleteWatchlist(name: \"edge\") }",
            json!({}),
        )
        .await;
    assert_eq!(deleted, json!({ "a": true, "b": false }));
    let gone = t
        .data(
            "{ watchlist(name: \"edge\") { name } watchlists { name } }",
            json!({}),
        )
        .await;
    assert_eq!(gone, json!({ "watchlist": null, "watchlists": [] }));
    t.app.stop().await;
}

#[tokio::test]
async fn the_target_limit_counts_every_watchlist() {
    let db = TestDb::new().await;
    let dns = crate::helpers::start_dns().await;
    let mut config = test_config(&db, &dns);
    config.max_watch_targets = 10;
    let app = spawn_with(config, dns).await;
    let token = app.token().await;
    let put = "mutation ($name: String!, $targets: [String!]!) {
                 putWatchlist(name: $name, targets: $targets) { target_count } }";
    let body = app
        .graphql_ok(
            &token,
            put,
            json!({ "name": "a", "targets": ["192.0.2.0/29"] }),
        )
        .await;
    assert_eq!(body["data"]["putWatchlist"]["target_count"], 8, "{body}");
    let body = app
        .graphql_ok(
            &token,
            put,
            json!({ "name": "b", "targets": ["198.51.100.0/30"] }),
        )
        .await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "TOO_MANY_TARGETS", "{body}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("12") && message.contains("SECWORKS_MAX_WATCH_TARGETS"),
        "{message}"
    );
    let body = app
        .graphql_ok(&token, "{ watchlists { name } }", json!({}))
        .await;
    assert_eq!(body["data"]["watchlists"], json!([{ "name": "a" }]));
    app.stop().await;
}
