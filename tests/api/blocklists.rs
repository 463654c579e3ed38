//! Many blocklists: each decoded by its own codes, paused on its own, within its own budget;
//! freshness, TXT reasons, delist links, evidence; domains. Against the test DNS server playing
//! every built-in zone.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use secworks::blocklists::{BlocklistSettings, Blocklists};
use secworks::timestamp::Clock;
use secworks_dnsbl::test_server::{TestAnswer, TestDnsServer};
use secworks_dnsbl::{Catalogue, Decoding, ListKey, Target};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, spawn_with, test_config};

const KEY: &str = "abcdefghijklmnopqrstuvwxyz";

const IP_DETAILS: &str = "query ($ip: String!) { getIpDetails(ip: $ip) {
    ip_address listed response_code updated_at
    results { blocklist status return_codes listings { list return_code description }
      reason delist_url checked_at expires_at last_error
      evidence { resolver query_name rcode ttl test_points_passed answered_at } } } }";

const DOMAIN_DETAILS: &str = "query ($domain: String!) { getDomainDetails(domain: $domain) {
    domain created_at updated_at listed
    results { blocklist status return_codes listings { list return_code description }
      reason delist_url checked_at expires_at last_error
      evidence { resolver query_name rcode ttl test_points_passed answered_at } } } }";

const BLOCKLISTS: &str = "{ blocklists { id name zone kind ipv4 ipv6 enabled healthy
    paused_reason delist_url website queries_today daily_budget } }";

/// How a test server is set up.
struct Setup {
    enabled: &'static str,
    budgets: Option<&'static str>,
    key: bool,
    health_interval: Option<Duration>,
}

impl Setup {
    fn lists(enabled: &'static str) -> Self {
        Self {
            enabled,
            budgets: None,
            key: false,
            health_interval: None,
        }
    }
}

struct ListsApp {
    app: TestApp,
    token: String,
    clock: Clock,
    catalogue: Catalogue,
    _db: TestDb,
}

async fn spawn_lists(setup: Setup) -> ListsApp {
    let db = TestDb::new().await;
    let catalogue = Catalogue::builtin().unwrap();
    let key = setup.key.then(|| ListKey::new(KEY).unwrap());
    let dns = Arc::new(
        TestDnsServer::start_catalogue(&catalogue, key.as_ref())
            .await
            .expect("DNS server starts"),
    );
    let mut config = test_config(&db, &dns);
    config.blocklists = Arc::new(
        Blocklists::new(&BlocklistSettings {
            enabled: Some(setup.enabled.to_owned()),
            budgets: setup.budgets.map(str::to_owned),
            dqs_key: setup.key.then(|| KEY.to_owned()),
            ..BlocklistSettings::default()
        })
        .unwrap(),
    );
    if let Some(interval) = setup.health_interval {
        config.engine.health_interval = interval;
    }
    let clock = config.clock.clone();
    let app = spawn_with(config, dns).await;
    let token = app.token().await;
    ListsApp {
        app,
        token,
        clock,
        catalogue,
        _db: db,
    }
}

impl ListsApp {
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

    async fn ip(&self, ip: &str) -> Value {
        let body = self.query(IP_DETAILS, json!({ "ip": ip })).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["getIpDetails"].clone()
    }

    async fn domain(&self, domain: &str) -> Value {
        let body = self
            .query(DOMAIN_DETAILS, json!({ "domain": domain }))
            .await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["getDomainDetails"].clone()
    }

    async fn blocklist(&self, id: &str) -> Value {
        let body = self.query(BLOCKLISTS, json!({})).await;
        body["data"]["blocklists"]
            .as_array()
            .unwrap()
            .iter()
            .find(|list| list["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {body}"))
            .clone()
    }

    async fn enqueue_ips(&self, ips: &[&str], reuse_fresh: bool) -> Value {
        self.query(
            "mutation ($ip: [String!]!, $fresh: Boolean) { enqueue(ip: $ip, reuse_fresh: $fresh) }",
            json!({ "ip": ips, "fresh": reuse_fresh }),
        )
        .await
    }

    async fn enqueue_domains(&self, domains: &[&str], reuse_fresh: bool) -> Value {
        self.query(
            "mutation ($d: [String!]!, $fresh: Boolean) { enqueueDomains(domain: $d, reuse_fresh: $fresh) }",
            json!({ "d": domains, "fresh": reuse_fresh }),
        )
        .await
    }

    /// Polls until every result of `target` satisfies `done`; panics after 30 s.
    async fn wait(&self, target: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let details = if target.parse::<std::net::IpAddr>().is_ok() {
                self.ip(target).await
            } else {
                self.domain(target).await
            };
            let results = details["results"].as_array().unwrap();
            if !results.is_empty() && results.iter().all(&done) {
                return details;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting on {target}: {details}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn answered(result: &Value) -> bool {
    result["status"] == "LISTED" || result["status"] == "NOT_LISTED"
}

fn result<'a>(details: &'a Value, list: &str) -> &'a Value {
    details["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["blocklist"] == list)
        .unwrap_or_else(|| panic!("no {list} result in {details}"))
}

fn records(codes: &[[u8; 4]]) -> TestAnswer {
    TestAnswer::Records(codes.iter().map(|&o| Ipv4Addr::from(o)).collect())
}

#[tokio::test]
async fn each_list_decodes_its_own_codes_for_addresses_and_domains() {
    let t = spawn_lists(Setup::lists("spamhaus-zen,spamcop,spamhaus-dbl,uribl")).await;
    t.answer(
        "spamhaus-zen",
        "192.0.2.1",
        records(&[[127, 0, 0, 4], [127, 0, 0, 2]]),
    );
    t.answer("spamcop", "192.0.2.1", records(&[[127, 0, 0, 2]]));
    let spamcop = t.catalogue.get("spamcop").unwrap();
    t.app
        .dns
        .txt(
            spamcop,
            &Target::parse("192.0.2.1").unwrap(),
            "Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.1",
        )
        .unwrap();
    t.answer("spamhaus-dbl", "bad.example", records(&[[127, 0, 1, 4]]));
    // black (2) and red (8); bit 16 is not documented and is ignored.
    t.answer("uribl", "bad.example", records(&[[127, 0, 0, 26]]));

    let taken = t.enqueue_ips(&["192.0.2.1", "192.0.2.2"], false).await;
    assert_eq!(taken["data"]["enqueue"], 2, "{taken}");
    let taken = t
        .enqueue_domains(&["BAD.example.", "clean.example"], false)
        .await;
    assert_eq!(taken["data"]["enqueueDomains"], 2, "{taken}");

    let ip = t.wait("192.0.2.1", answered).await;
    assert_eq!(ip["listed"], true);
    // ZEN's original fields keep their meaning.
    assert_eq!(ip["response_code"], "127.0.0.2, 127.0.0.4");
    let lists: Vec<&Value> = ip["results"].as_array().unwrap().iter().collect();
    assert_eq!(lists.len(), 2, "one result per enabled IP list: {ip}");
    assert_eq!(lists[0]["blocklist"], "spamhaus-zen", "catalogue order");
    let zen = result(&ip, "spamhaus-zen");
    assert_eq!(zen["status"], "LISTED");
    assert_eq!(zen["return_codes"], json!(["127.0.0.2", "127.0.0.4"]));
    let names: Vec<&str> = zen["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["list"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SBL", "XBL"]);
    assert_eq!(zen["delist_url"], "https://check.spamhaus.org/");
    let cop = result(&ip, "spamcop");
    assert_eq!(cop["status"], "LISTED");
    // SpamCop's 127.0.0.2 is SpamCop's listing, not Spamhaus's SBL.
    assert_eq!(cop["listings"][0]["list"], "SCBL", "{cop}");
    assert_eq!(
        cop["reason"],
        "Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.1"
    );
    assert_eq!(cop["delist_url"], "https://www.spamcop.net/bl.shtml");
    assert!(cop["checked_at"].as_str().unwrap() < cop["expires_at"].as_str().unwrap());
    let evidence = &cop["evidence"];
    assert_eq!(evidence["resolver"], t.app.dns.addr().to_string());
    assert_eq!(evidence["query_name"], "1.2.0.192.bl.spamcop.net.");
    assert_eq!(evidence["rcode"], "NOERROR");
    assert_eq!(evidence["test_points_passed"], true);
    assert!(evidence["ttl"].as_i64().unwrap() > 0, "{evidence}");

    let clean = t.wait("192.0.2.2", answered).await;
    assert_eq!(clean["listed"], false);
    for list in clean["results"].as_array().unwrap() {
        assert_eq!(list["status"], "NOT_LISTED", "{clean}");
        assert_eq!(list["delist_url"], Value::Null);
        assert_eq!(list["evidence"]["rcode"], "NXDOMAIN");
        // The negative TTL from the zone's SOA.
        assert!(list["evidence"]["ttl"].as_i64().is_some(), "{clean}");
    }

    let domain = t.wait("bad.example", answered).await;
    assert_eq!(domain["domain"], "bad.example");
    assert_eq!(domain["listed"], true);
    assert!(domain["created_at"].is_string());
    let lists: Vec<&str> = domain["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["blocklist"].as_str().unwrap())
        .collect();
    assert_eq!(lists, ["spamhaus-dbl", "uribl"]);
    let dbl = result(&domain, "spamhaus-dbl");
    assert_eq!(dbl["listings"][0]["list"], "phish", "{dbl}");
    let uribl = result(&domain, "uribl");
    let bits: Vec<&str> = uribl["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["list"].as_str().unwrap())
        .collect();
    assert_eq!(bits, ["black", "red"], "{uribl}");
    let clean = t.wait("clean.example", answered).await;
    assert_eq!(clean["listed"], false);

    // An address no list was asked about yet.
    let fresh = t.ip("192.0.2.99").await;
    assert_eq!(fresh["listed"], Value::Null);
    for list in fresh["results"].as_array().unwrap() {
        assert_eq!(list["status"], "NOT_CHECKED");
    }
    t.app.stop().await;
}

#[tokio::test]
async fn no_error_answer_of_any_list_is_ever_listed() {
    let all: Vec<String> = Catalogue::builtin()
        .unwrap()
        .lists()
        .iter()
        .map(|l| l.id.clone())
        .collect();
    let enabled: &'static str = Box::leak(all.join(",").into_boxed_str());
    let t = spawn_lists(Setup {
        key: true,
        // Rate-limit answers pause a list; other lists' errors must still be seen.
        ..Setup::lists(enabled)
    })
    .await;
    // For every list, one target per documented error answer, one for an undocumented code,
    // one NODATA and one SERVFAIL.
    let mut expected = Vec::new();
    let mut n = 0u32;
    let mut next_target = |kind: secworks_dnsbl::ListKind| {
        n += 1;
        match kind {
            secworks_dnsbl::ListKind::Ip => format!("198.51.{}.{}", n / 250, n % 250 + 1),
            secworks_dnsbl::ListKind::Domain => format!("error{n}.example"),
        }
    };
    for list in t.catalogue.lists() {
        let mut answers: Vec<(TestAnswer, String)> = Vec::new();
        match &list.decoding {
            Decoding::Codes { listings, errors } => {
                for error in errors {
                    answers.push((
                        TestAnswer::Records(vec![error.value]),
                        format!("documented error {}", error.value),
                    ));
                }
                // An error beside a listing is still an error.
                if let (Some(error), Some(listing)) = (errors.first(), listings.first()) {
                    answers.push((
                        TestAnswer::Records(vec![listing.value, error.value]),
                        "error beside a listing".into(),
                    ));
                }
                answers.push((records(&[[127, 0, 0, 199]]), "undocumented code".into()));
            }
            Decoding::Bits { bits, errors } => {
                for error in errors {
                    answers.push((
                        records(&[[127, 0, 0, error.value]]),
                        format!("documented error bit {}", error.value),
                    ));
                }
                let documented = bits
                    .iter()
                    .map(|b| b.value)
                    .chain(errors.iter().map(|e| e.value))
                    .fold(0u8, |all, bit| all | bit);
                if let Some(none) = (1..=255u8).find(|value| value & documented == 0) {
                    answers.push((records(&[[127, 0, 0, none]]), "no documented bit".into()));
                }
            }
        }
        answers.push((records(&[[192, 0, 2, 1]]), "outside 127/8".into()));
        answers.push((TestAnswer::NoData, "NODATA".into()));
        answers.push((TestAnswer::ServFail, "SERVFAIL".into()));
        for (answer, what) in answers {
            let target = next_target(list.kind);
            t.answer(&list.id, &target, answer);
            expected.push((list.id.clone(), list.kind, target, what));
        }
    }
    let ips: Vec<&str> = expected
        .iter()
        .filter(|(_, kind, ..)| *kind == secworks_dnsbl::ListKind::Ip)
        .map(|(_, _, target, _)| target.as_str())
        .collect();
    let domains: Vec<&str> = expected
        .iter()
        .filter(|(_, kind, ..)| *kind == secworks_dnsbl::ListKind::Domain)
        .map(|(_, _, target, _)| target.as_str())
        .collect();
    t.enqueue_ips(&ips, false).await;
    t.enqueue_domains(&domains, false).await;
    for (list, _, target, what) in &expected {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let details = if target.ends_with(".example") {
                t.domain(target).await
            } else {
                t.ip(target).await
            };
            let mine = result(&details, list);
            assert_ne!(
                mine["status"], "LISTED",
                "{list} {what} became a listing: {details}"
            );
            assert_ne!(mine["status"], "NOT_LISTED", "{list} {what}: {details}");
            if mine["status"] == "UNKNOWN" {
                assert!(mine["last_error"].is_string(), "{mine}");
                assert!(mine["evidence"].is_object(), "{mine}");
                assert_eq!(mine["listings"], json!([]));
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{list} {what} never failed: {details}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    t.app.stop().await;
}

#[tokio::test]
async fn a_list_whose_test_points_fail_pauses_alone() {
    let t = spawn_lists(Setup::lists("spamhaus-zen,spamcop")).await;
    t.app.dns.fail_test_points("spamcop", true);
    t.answer("spamcop", "192.0.2.10", records(&[[127, 0, 0, 2]]));
    t.enqueue_ips(&["192.0.2.10"], false).await;
    let details = t
        .wait("192.0.2.10", |r| r["blocklist"] == "spamcop" || answered(r))
        .await;
    assert_eq!(result(&details, "spamhaus-zen")["status"], "NOT_LISTED");
    assert_eq!(
        result(&details, "spamcop")["status"],
        "NOT_CHECKED",
        "{details}"
    );
    let spamcop = t.blocklist("spamcop").await;
    assert_eq!(spamcop["healthy"], false, "{spamcop}");
    assert!(
        spamcop["paused_reason"]
            .as_str()
            .unwrap()
            .contains("test point"),
        "{spamcop}"
    );
    let zen = t.blocklist("spamhaus-zen").await;
    assert_eq!(zen["healthy"], true);
    assert_eq!(zen["paused_reason"], Value::Null);
    // Not every list waits, so the queue as a whole is not paused.
    let status = t.app.queue_status(&t.token).await;
    assert_eq!(status["paused"], false, "{status}");

    t.app.dns.fail_test_points("spamcop", false);
    let details = t.wait("192.0.2.10", answered).await;
    assert_eq!(result(&details, "spamcop")["status"], "LISTED");
    assert_eq!(details["listed"], true);
    t.app.stop().await;
}

#[tokio::test]
async fn a_resolver_blocked_between_test_point_checks_never_delists_a_target() {
    // Test points checked at start, then only hourly: a resolver blocked in between answers
    // NXDOMAIN to everything while the list still counts as healthy.
    let t = spawn_lists(Setup {
        health_interval: Some(Duration::from_secs(3_600)),
        ..Setup::lists("spamcop")
    })
    .await;
    t.answer("spamcop", "192.0.2.10", records(&[[127, 0, 0, 2]]));
    t.enqueue_ips(&["192.0.2.10"], false).await;
    t.wait("192.0.2.10", |r| r["status"] == "LISTED").await;

    // Blocked: the target and the listed test points now answer NXDOMAIN.
    t.app.dns.fail_test_points("spamcop", true);
    t.answer("spamcop", "192.0.2.10", TestAnswer::NxDomain);
    t.enqueue_ips(&["192.0.2.10"], false).await;
    // The "not listed" answer waits for a test-point check, which fails: the list pauses and
    // the answer is not stored; the target stays listed and no delisting is logged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let details = loop {
        let details = t.ip("192.0.2.10").await;
        if result(&details, "spamcop")["last_error"].is_string() {
            break details;
        }
        assert!(tokio::time::Instant::now() < deadline, "{details}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let spamcop = result(&details, "spamcop");
    assert_eq!(spamcop["status"], "LISTED", "{details}");
    assert!(
        spamcop["last_error"]
            .as_str()
            .unwrap()
            .contains("test points failed right after"),
        "{details}"
    );
    assert_eq!(t.blocklist("spamcop").await["healthy"], false);
    let events = "{ listingEvents { edges { node { change target } } } }";
    let changes = |body: &Value| {
        body["data"]["listingEvents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["change"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(changes(&t.query(events, json!({})).await), ["LISTED"]);

    // The resolver answers again, and the list really delisted the target: once the test
    // points pass, the retried answer stands.
    t.app.dns.fail_test_points("spamcop", false);
    t.wait("192.0.2.10", |r| r["status"] == "NOT_LISTED").await;
    assert_eq!(
        changes(&t.query(events, json!({})).await),
        ["LISTED", "DELISTED"]
    );
    t.app.stop().await;
}

#[tokio::test]
async fn a_used_up_daily_budget_pauses_the_list_until_the_next_utc_day() {
    // SpamCop has two test points; they are checked once (the interval is long) and count.
    let t = spawn_lists(Setup {
        budgets: Some("spamcop=5"),
        health_interval: Some(Duration::from_secs(3600)),
        ..Setup::lists("spamhaus-zen,spamcop")
    })
    .await;
    let ips = [
        "192.0.2.21",
        "192.0.2.22",
        "192.0.2.23",
        "192.0.2.24",
        "192.0.2.25",
    ];
    t.enqueue_ips(&ips, false).await;
    // ZEN answers all five; SpamCop three (5 − 2 test points), then waits.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let answered_by_spamcop = loop {
        let mut zen = 0;
        let mut spamcop = 0;
        for ip in ips {
            let details = t.ip(ip).await;
            zen += usize::from(answered(result(&details, "spamhaus-zen")));
            spamcop += usize::from(answered(result(&details, "spamcop")));
        }
        let list = t.blocklist("spamcop").await;
        if zen == 5 && list["paused_reason"].is_string() && spamcop == 3 {
            break list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "zen {zen}, spamcop {spamcop}: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answered_by_spamcop["queries_today"], 5);
    assert_eq!(answered_by_spamcop["daily_budget"], 5);
    let reason = answered_by_spamcop["paused_reason"].as_str().unwrap();
    assert!(reason.contains("daily budget of 5 queries"), "{reason}");
    assert!(
        reason.contains("T00:00:00"),
        "says when it resumes: {reason}"
    );
    let counted = t
        .app
        .count_rows("SELECT CAST(SUM(queries) AS BIGINT) FROM blocklist_queries WHERE blocklist = 'spamcop'")
        .await;
    assert_eq!(
        counted, 5,
        "counted in the database, where replicas share it"
    );

    // The next UTC day the budget starts again and the rest are asked.
    t.clock.advance(Duration::from_secs(86_400));
    for ip in ips {
        t.wait(ip, answered).await;
    }
    let list = t.blocklist("spamcop").await;
    assert_eq!(list["paused_reason"], Value::Null, "{list}");
    assert_eq!(list["queries_today"], 2, "{list}");
    t.app.stop().await;
}

#[tokio::test]
async fn fresh_answers_are_reused_only_when_asked() {
    let t = spawn_lists(Setup::lists("spamhaus-zen")).await;
    // Not listed: fresh for the zone's negative TTL.
    t.app.dns.set_negative_ttl(600);
    t.enqueue_ips(&["192.0.2.40"], false).await;
    let first = t.wait("192.0.2.40", answered).await;
    let zen = result(&first, "spamhaus-zen");
    assert_eq!(zen["evidence"]["ttl"], 600);
    let checked = zen["checked_at"].as_str().unwrap().to_owned();
    let expires = zen["expires_at"].as_str().unwrap().to_owned();
    let (at, until) = (
        secworks::timestamp::parse(&checked).unwrap(),
        secworks::timestamp::parse(&expires).unwrap(),
    );
    assert_eq!((until - at).whole_seconds(), 600, "fresh for the TTL");

    // Fresh: not asked again; nothing is even queued.
    let queries = t.app.dns.queries_for("spamhaus-zen");
    t.enqueue_ips(&["192.0.2.40"], true).await;
    let status = t
        .app
        .wait_for_idle_queue(&t.token, Duration::from_secs(10))
        .await;
    assert_eq!(status["done"], 1, "{status}");
    assert_eq!(
        result(&t.ip("192.0.2.40").await, "spamhaus-zen")["checked_at"],
        checked.as_str()
    );

    // Without reuse_fresh it is asked again, as the original contract has it.
    t.enqueue_ips(&["192.0.2.40"], false).await;
    let again = t
        .wait("192.0.2.40", |r| r["checked_at"] != checked.as_str())
        .await;
    // The address's row and its list results are two reads, each of a committed state: one
    // may come from just before the answer was stored, so read again until both have it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while t.ip("192.0.2.40").await["updated_at"] == first["updated_at"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "updated_at never moved"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rechecked = result(&again, "spamhaus-zen")["checked_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(t.app.dns.queries_for("spamhaus-zen") > queries);

    // Once it has expired, reuse_fresh asks again too.
    t.clock.advance(Duration::from_secs(601));
    t.enqueue_ips(&["192.0.2.40"], true).await;
    t.wait("192.0.2.40", |r| r["checked_at"] != rechecked.as_str())
        .await;
    t.app.stop().await;
}

#[tokio::test]
async fn evidence_and_zones_never_show_the_key() {
    let t = spawn_lists(Setup {
        key: true,
        ..Setup::lists("spamhaus-zen,spamhaus-zrd")
    })
    .await;
    t.answer("spamhaus-zrd", "new.example", records(&[[127, 0, 2, 2]]));
    t.enqueue_ips(&["127.0.0.2"], false).await;
    t.enqueue_domains(&["new.example"], false).await;
    let ip = t.wait("127.0.0.2", answered).await;
    let domain = t.wait("new.example", answered).await;
    let zen = result(&ip, "spamhaus-zen");
    assert_eq!(
        zen["evidence"]["query_name"],
        "2.0.0.127.<key>.zen.dq.spamhaus.net."
    );
    let zrd = result(&domain, "spamhaus-zrd");
    assert_eq!(zrd["status"], "LISTED", "{domain}");
    assert_eq!(
        zrd["evidence"]["query_name"],
        "new.example.<key>.zrd.dq.spamhaus.net."
    );
    let lists = t.query(BLOCKLISTS, json!({})).await;
    for body in [ip, domain, lists.clone()] {
        assert!(!body.to_string().contains(KEY), "the key shows: {body}");
    }
    let zrd = &lists["data"]["blocklists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "spamhaus-zrd")
        .unwrap()
        .clone();
    assert_eq!(zrd["zone"], "<key>.zrd.dq.spamhaus.net");
    assert_eq!(zrd["kind"], "DOMAIN");
    assert_eq!(zrd["enabled"], true);
    t.app.stop().await;
}

#[tokio::test]
async fn domains_are_validated_and_nothing_is_half_queued() {
    let t = spawn_lists(Setup::lists("spamhaus-zen,spamhaus-dbl")).await;
    let body = t
        .enqueue_domains(
            &["good.example", "bad..example", "localhost", "10.0.0.1"],
            false,
        )
        .await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "INVALID_DOMAIN", "{body}");
    let message = error["message"].as_str().unwrap();
    for part in [
        "\"bad..example\" at index 1",
        "empty label",
        "\"localhost\" at index 2",
        "single label",
        "\"10.0.0.1\" at index 3",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(error["extensions"]["invalid"].as_array().unwrap().len(), 3);
    let status = t.app.queue_status(&t.token).await;
    assert_eq!(status["pending"], 0, "nothing queued: {status}");

    let body = t
        .query(DOMAIN_DETAILS, json!({ "domain": "exa mple.com" }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INVALID_DOMAIN",
        "{body}"
    );

    // Internationalised names are stored and shown in their ASCII form.
    t.enqueue_domains(&["Bücher.Example"], false).await;
    let details = t.wait("xn--bcher-kva.example", answered).await;
    assert_eq!(details["domain"], "xn--bcher-kva.example");
    let same = t.domain("BÜCHER.example").await;
    assert_eq!(same["updated_at"], details["updated_at"]);
    t.app.stop().await;
}

#[tokio::test]
async fn the_blocklists_query_lists_the_whole_catalogue() {
    let t = spawn_lists(Setup::lists("spamhaus-zen,uribl")).await;
    let body = t.query(BLOCKLISTS, json!({})).await;
    let lists = body["data"]["blocklists"].as_array().unwrap();
    let ids: Vec<&str> = lists.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "spamhaus-zen",
            "spamhaus-dbl",
            "spamhaus-zrd",
            "spamhaus-authbl",
            "spamcop",
            "barracuda",
            "mailspike",
            "psbl",
            "uceprotect-1",
            "surbl",
            "uribl"
        ]
    );
    let barracuda = lists.iter().find(|l| l["id"] == "barracuda").unwrap();
    assert_eq!(barracuda["enabled"], false);
    assert_eq!(barracuda["healthy"], false);
    assert!(
        barracuda["paused_reason"]
            .as_str()
            .unwrap()
            .contains("SECWORKS_BLOCKLISTS")
    );
    let zen = t.blocklist("spamhaus-zen").await;
    assert_eq!(zen["enabled"], true);
    assert_eq!(zen["kind"], "IP");
    assert_eq!(zen["ipv6"], true);
    // Its free-use limit of 300,000 less 10% headroom.
    assert_eq!(zen["daily_budget"], 270000);
    t.app.stop().await;
}

#[tokio::test]
async fn a_bad_blocklists_file_stops_the_start_naming_file_line_and_field() {
    let db = TestDb::new().await;
    let file = db.dir().join("lists.toml");
    std::fs::write(
        &file,
        "[[list]]\nid = \"corp\"\nname = \"Corp\"\nzone = \"bl.corp.example\"\nkind = \"ip\"\nipv4 = true\nlistings = [{ code = \"10.0.0.2\", name = \"x\", meaning = \"y\" }]\ntest_points = [{ query = \"127.0.0.2\", listed = true }]\n",
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_secworks"))
        .arg("blocklists")
        .env("SECWORKS_BLOCKLISTS_FILE", &file)
        .env_remove("SECWORKS_BLOCKLISTS")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SECWORKS_BLOCKLISTS_FILE"), "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 7"), "{stderr}");
    assert!(stderr.contains("`code`"), "{stderr}");
}

/// The private list of the README's "Blocklists" section, loaded and queried as it says.
#[tokio::test]
async fn the_readme_private_list_works_as_shown() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let toml = &readme[start..start + readme[start..].find("```").unwrap()];
    let db = TestDb::new().await;
    let file = db.dir().join("corp.toml");
    std::fs::write(&file, toml).unwrap();
    let catalogue = Catalogue::with_file(&file).unwrap();
    let dns = Arc::new(
        TestDnsServer::start_catalogue(&catalogue, None)
            .await
            .unwrap(),
    );
    let corp = catalogue.get("corp-ip").unwrap();
    dns.answer(
        corp,
        &Target::parse("192.0.2.77").unwrap(),
        records(&[[127, 0, 0, 2]]),
    )
    .unwrap();
    let mut config = test_config(&db, &dns);
    config.blocklists = Arc::new(
        Blocklists::new(&BlocklistSettings {
            enabled: Some("spamhaus-zen,corp-ip".into()),
            file: Some(file),
            ..BlocklistSettings::default()
        })
        .unwrap(),
    );
    let app = spawn_with(config, dns).await;
    let token = app.token().await;
    app.enqueue(&token, &["192.0.2.77"]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let body = app
            .graphql_ok(&token, IP_DETAILS, json!({ "ip": "192.0.2.77" }))
            .await;
        let details = &body["data"]["getIpDetails"];
        let corp = result(details, "corp-ip");
        if corp["status"] == "LISTED" {
            assert_eq!(corp["listings"][0]["list"], "corp");
            assert_eq!(
                corp["delist_url"],
                "https://intranet.corp.example/blocklist"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_list_no_longer_enabled_has_its_pending_lookups_given_up() {
    let db = TestDb::new().await;
    let catalogue = Catalogue::builtin().unwrap();
    let dns = Arc::new(
        TestDnsServer::start_catalogue(&catalogue, None)
            .await
            .unwrap(),
    );
    // SpamCop's test points fail, so its jobs wait.
    dns.fail_test_points("spamcop", true);
    let with = |enabled: &str| {
        let mut config = test_config(&db, &dns);
        config.blocklists = Arc::new(
            Blocklists::new(&BlocklistSettings {
                enabled: Some(enabled.to_owned()),
                ..BlocklistSettings::default()
            })
            .unwrap(),
        );
        config
    };
    let app = spawn_with(with("spamhaus-zen,spamcop"), dns.clone()).await;
    let token = app.token().await;
    app.enqueue(&token, &["192.0.2.90", "192.0.2.91"]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = app.queue_status(&token).await;
        if status["done"] == 2 && status["pending"] == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;

    // Restarted without SpamCop: no worker would ever take its jobs, so they are given up
    // (and say why) instead of keeping the queue busy forever.
    let app = spawn_with(with("spamhaus-zen"), dns).await;
    let token = app.token().await;
    let status = app
        .wait_for_idle_queue(&token, Duration::from_secs(10))
        .await;
    assert_eq!(status["failed"], 2, "{status}");
    let errors = crate::helpers::texts_at(
        &app.database_url,
        "SELECT last_error FROM lookup_jobs WHERE state = 'failed'",
    )
    .await;
    assert!(
        errors
            .iter()
            .all(|e| e.contains("spamcop is not enabled (SECWORKS_BLOCKLISTS)")),
        "{errors:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_lookup_and_blocklists_commands_ask_the_chosen_lists() {
    let catalogue = Catalogue::builtin().unwrap();
    let dns = TestDnsServer::start_catalogue(&catalogue, None)
        .await
        .unwrap();
    let run = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_secworks"));
        command
            .args(args)
            .env("SECWORKS_DNS_SERVER", dns.addr().to_string())
            .env("SECWORKS_DNS_TIMEOUT", "500ms")
            .env_remove("SECWORKS_BLOCKLISTS")
            .env_remove("SECWORKS_DQS_KEY")
            .env_remove("DATABASE_URL");
        async move { command.output().await.unwrap() }
    };
    // Addresses go to the IP lists, domains to the domain lists, one line each.
    let output = run(&[
        "lookup",
        "--lists",
        "spamhaus-dbl,spamcop",
        "dbltest.com",
        "127.0.0.2",
        "127.0.0.1",
    ])
    .await;
    // Exit 1: something is listed.
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "dbltest.com\tspamhaus-dbl\t127.0.1.2\tspam (127.0.1.2)",
            "127.0.0.2\tspamcop\t127.0.0.2\tSCBL (127.0.0.2)",
            "127.0.0.1\tspamcop\tNo Response",
        ],
        "{stdout}"
    );
    // A list whose test points fail is not trusted, and says so.
    dns.fail_test_points("spamcop", true);
    let output = run(&["lookup", "--lists", "spamcop", "192.0.2.1"]).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("192.0.2.1\tspamcop\terror: answers not trusted: "),
        "{stdout}"
    );
    let output = run(&["lookup", "--lists", "sorbs", "192.0.2.1"]).await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("unknown blocklist \"sorbs\""),
        "{output:?}"
    );

    let output = run(&["blocklists", "--check"]).await;
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let zen = stdout
        .lines()
        .find(|line| line.starts_with("spamhaus-zen\t"))
        .unwrap();
    assert!(zen.contains("\tenabled, test points pass\t"), "{zen}");
    let zrd = stdout
        .lines()
        .find(|line| line.starts_with("spamhaus-zrd\t"))
        .unwrap();
    assert!(zrd.contains("needs SECWORKS_DQS_KEY"), "{zrd}");
    assert_eq!(
        stdout.lines().count(),
        1 + catalogue.lists().len(),
        "{stdout}"
    );
}

/// With ZEN alone (the default) `listed` is read from the address's row; with its per-list
/// results selected, from those. Both must say the same in every state.
#[tokio::test]
async fn listed_is_the_same_whether_or_not_results_are_selected() {
    let app = crate::helpers::spawn_app().await;
    let token = app.token().await;
    let set = |ip: &str, answer: TestAnswer| app.dns.set(ip.parse().unwrap(), answer);
    set("192.0.2.101", records(&[[127, 0, 0, 2]]));
    set("192.0.2.102", TestAnswer::NxDomain);
    set("192.0.2.103", TestAnswer::ServFail);
    app.enqueue(&token, &["192.0.2.101", "192.0.2.102", "192.0.2.103"])
        .await;
    app.wait_for_details(&token, "192.0.2.102", |d| d["listed"] == false)
        .await;
    app.wait_for_details(&token, "192.0.2.103", |d| !d["last_error"].is_null())
        .await;
    // Listed, then an error: the answer stays.
    set("192.0.2.101", TestAnswer::ServFail);
    app.enqueue(&token, &["192.0.2.101"]).await;
    app.wait_for_details(&token, "192.0.2.101", |d| !d["last_error"].is_null())
        .await;
    for (ip, listed) in [
        ("192.0.2.101", json!(true)),
        ("192.0.2.102", json!(false)),
        ("192.0.2.103", Value::Null),
        ("192.0.2.104", Value::Null),
    ] {
        let variables = json!({ "ip": ip });
        let short = app
            .graphql_ok(
                &token,
                "query ($ip: String!) { getIpDetails(ip: $ip) { listed } }",
                variables.clone(),
            )
            .await;
        let long = app
            .graphql_ok(
                &token,
                "query ($ip: String!) { getIpDetails(ip: $ip) { listed results { status } } }",
                variables,
            )
            .await;
        assert_eq!(
            short["data"]["getIpDetails"]["listed"], listed,
            "{ip}: {short}"
        );
        assert_eq!(
            long["data"]["getIpDetails"]["listed"], listed,
            "{ip}: {long}"
        );
    }
    app.stop().await;
}
