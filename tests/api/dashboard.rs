//! The dashboard at `/ui`: served whole from the binary under a strict policy, its data only
//! with a bearer token, and the GraphQL fields it reads (`blocklistUsage`, `listedTargets`,
//! `watchedListings`, `latestListingEvents`) against a real DNS server on loopback.

use std::net::Ipv4Addr;

use secworks_dnsbl::test_server::TestAnswer;
use secworks_dnsbl::{Catalogue, Target};
use serde_json::json;

use crate::helpers::{assert_unauthorized, spawn_app};

const LISTED: &str = "192.0.2.77";
const CLEAN: &str = "192.0.2.78";
const REASON: &str = "Listed in SBL: https://check.spamhaus.org/sbl/query/SBL1";

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_page_is_served_whole_from_the_binary_under_a_strict_policy() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/ui")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(header(&page, "content-type").starts_with("text/html"));
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    let csp = header(&page, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing: {csp}");
    }
    // No inline code of any kind, and nothing from another host.
    assert!(
        !csp.contains("unsafe") && !csp.contains("http") && !csp.contains('*'),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("<style"),
        "inline code"
    );
    assert!(!html.contains(" style="), "inline style");
    let handler = html.split(" on").skip(1).find(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(handler.is_none(), "inline event handler: on{handler:?}");

    // Every URL the page names is a path on this origin (or a fragment of itself).
    let urls: Vec<&str> = [" src=\"", " href=\""]
        .into_iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .filter(|url| !url.is_empty())
        .collect();
    assert!(!html.contains("://"), "an absolute URL in the page");
    for url in &urls {
        assert!(
            (url.starts_with('/') && !url.starts_with("//")) || url.starts_with('#'),
            "{url} is not a same-origin path"
        );
    }
    // Its scripts and styles are under /ui, byte for byte the committed files.
    let assets: Vec<&str> = urls
        .iter()
        .copied()
        .filter(|url| url.ends_with(".js") || url.ends_with(".css"))
        .collect();
    assert_eq!(assets.len(), 4, "{assets:?}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    for asset in assets {
        let name = asset.strip_prefix("/ui/").expect("an asset of /ui");
        let resp = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
        let expected = if name.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            header(&resp, "content-type").starts_with(expected),
            "{asset}"
        );
        let served = resp.bytes().await.unwrap();
        let committed = std::fs::read(root.join(name))
            .or_else(|_| std::fs::read(root.join("vendor").join(name)))
            .unwrap();
        assert!(served == committed, "{asset} differs from web/");
    }
    // The scripts too send requests only to this origin: relative paths, no host.
    let script = std::fs::read_to_string(root.join("dashboard.js")).unwrap();
    for line in script.lines().filter(|l| l.contains("fetch(")) {
        assert!(line.contains("fetch('/graphql"), "{line}");
    }
}

#[tokio::test]
async fn the_page_asks_for_a_login_and_its_data_needs_a_token() {
    let app = spawn_app().await;
    let html = app
        .client
        .get(app.url("/ui"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<form id="login""#), "no login form");
    assert!(html.contains(r#"name="password" type="password""#));
    // The board is hidden until a login succeeds; the data comes from /graphql alone.
    assert!(html.contains(r#"<div id="board" hidden>"#));

    let query = json!({ "query": "{ blocklistUsage { hour } listedTargets { hour } watchedListings { target } latestListingEvents { id } }" });
    let resp = app
        .client
        .post(app.url("/graphql"))
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_unauthorized(resp, "Bearer").await;
    let token = app.token().await;
    app.revoke(&token).await;
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_unauthorized(resp, "Bearer").await;
}

const DASHBOARD: &str = "query($hours: Int) {
  blocklists { id daily_budget queries_today }
  blocklistUsage(hours: $hours) { blocklist hour queries hourly_budget }
  listedTargets(hours: $hours) { blocklist hour listed }
  watchedListings { target blocklist return_codes listings { list return_code } reason delist_url checked_at watchlists }
  latestListingEvents(last: 5) { cursor at target blocklist change return_codes reason delist_url }
}";

#[tokio::test]
async fn the_dashboard_fields_show_listings_events_and_hourly_counts() {
    let app = spawn_app().await;
    let token = app.token().await;
    let zen = Catalogue::builtin().unwrap();
    let zen = zen.get("spamhaus-zen").unwrap();
    app.dns.set(
        LISTED.parse().unwrap(),
        TestAnswer::Records(vec![Ipv4Addr::new(127, 0, 0, 2)]),
    );
    app.dns
        .txt(zen, &Target::parse(LISTED).unwrap(), REASON)
        .unwrap();
    let put = app
        .graphql_ok(
            &token,
            "mutation { mail: putWatchlist(name: \"mail\", targets: [\"192.0.2.76/30\"]) { name }
                        web: putWatchlist(name: \"web\", targets: [\"192.0.2.77\"]) { name } }",
            json!({}),
        )
        .await;
    assert!(put.get("errors").is_none(), "{put}");
    // Another listed address, not watched: an event, and a listed target, but no watched listing.
    let other = "198.51.100.7";
    app.dns.set(
        other.parse().unwrap(),
        TestAnswer::Records(vec![Ipv4Addr::new(127, 0, 0, 4)]),
    );
    app.enqueue(&token, &[LISTED, CLEAN, other]).await;
    for ip in [LISTED, CLEAN, other] {
        app.wait_for_details(&token, ip, |d| !d["listed"].is_null())
            .await;
    }

    let body = app
        .graphql_ok(&token, DASHBOARD, json!({ "hours": 3 }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let data = &body["data"];

    // The watched listing: reason from TXT, delist link from the catalogue, both watchlists.
    assert_eq!(
        data["watchedListings"],
        json!([{
            "target": LISTED,
            "blocklist": "spamhaus-zen",
            "return_codes": ["127.0.0.2"],
            "listings": [{ "list": "SBL", "return_code": "127.0.0.2" }],
            "reason": REASON,
            "delist_url": zen.lookup_url,
            "checked_at": data["watchedListings"][0]["checked_at"],
            "watchlists": ["mail", "web"],
        }]),
        "{data}"
    );
    assert!(
        data["watchedListings"][0]["checked_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    // The latest events, newest first: the two listings, nothing for the clean address.
    let events = data["latestListingEvents"].as_array().unwrap();
    let mut seen: Vec<&str> = events
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, [LISTED, other], "{events:?}");
    for event in events {
        assert_eq!(event["change"], "LISTED");
        assert_eq!(event["delist_url"], json!(zen.lookup_url));
    }
    let cursors: Vec<i64> = events
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(cursors[0] > cursors[1], "newest first: {cursors:?}");
    let listed_event = events.iter().find(|e| e["target"] == LISTED).unwrap();
    assert_eq!(listed_event["reason"], REASON);

    // Three hours, oldest first, the current one last, each for the one enabled list.
    let usage = data["blocklistUsage"].as_array().unwrap();
    assert_eq!(usage.len(), 3, "{usage:?}");
    let hours: Vec<&str> = usage.iter().map(|u| u["hour"].as_str().unwrap()).collect();
    assert!(hours.windows(2).all(|w| w[0] < w[1]), "{hours:?}");
    for hour in &hours {
        assert!(hour.ends_with(":00:00.000000Z"), "{hour}");
    }
    let budget = &data["blocklists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "spamhaus-zen")
        .unwrap()["daily_budget"];
    for row in usage {
        assert_eq!(row["blocklist"], "spamhaus-zen");
        match budget.as_f64() {
            Some(daily) => assert_eq!(row["hourly_budget"].as_f64(), Some(daily / 24.0)),
            None => assert!(row["hourly_budget"].is_null()),
        }
    }
    // The three lookups were sent within the last two hours, test-point checks besides.
    let recent: i64 = usage[1..]
        .iter()
        .map(|u| u["queries"].as_i64().unwrap())
        .sum();
    assert!(recent >= 3, "{usage:?}");
    assert_eq!(usage[0]["queries"], 0, "{usage:?}");

    // Two targets listed now; none at the end of the hour two hours ago, before the lookups.
    let listed = data["listedTargets"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(listed[2]["listed"], 2, "{listed:?}");
    assert_eq!(listed[0]["listed"], 0, "{listed:?}");
    let listed_hours: Vec<&str> = listed.iter().map(|l| l["hour"].as_str().unwrap()).collect();
    assert_eq!(listed_hours, hours);
}

#[tokio::test]
async fn out_of_range_arguments_are_refused_by_name() {
    let app = spawn_app().await;
    let token = app.token().await;
    for (query, argument) in [
        ("{ blocklistUsage(hours: 0) { hour } }", "hours"),
        ("{ blocklistUsage(hours: 193) { hour } }", "hours"),
        ("{ listedTargets(hours: -1) { hour } }", "hours"),
        ("{ watchedListings(first: 0) { target } }", "first"),
        ("{ watchedListings(first: 1001) { target } }", "first"),
        ("{ latestListingEvents(last: 101) { id } }", "last"),
    ] {
        let body = app.graphql_ok(&token, query, json!({})).await;
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{argument}`")), "{message}");
    }
    // At the limits, and with the defaults, they answer.
    let body = app
        .graphql_ok(
            &token,
            "{ blocklistUsage(hours: 192) { hour } listedTargets { hour } watchedListings(first: 1000) { target } latestListingEvents(last: 100) { id } }",
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["blocklistUsage"].as_array().unwrap().len(),
        192
    );
    assert_eq!(body["data"]["listedTargets"].as_array().unwrap().len(), 48);
}
