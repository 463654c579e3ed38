//! Catalogue lists asked through `query_list` and `check_list_test_points`, against the test
//! server playing every built-in list on loopback.

use std::net::Ipv4Addr;
use std::time::Duration;

use secworks_dnsbl::test_server::{DEFAULT_NEGATIVE_TTL, SOA_TTL, TestAnswer, TestDnsServer};
use secworks_dnsbl::{
    Blocklist, Catalogue, Decoding, DnsblResolver, ErrorAnswerKind, ListError, ListKey,
    ListLookupError, ListOutcome, ListResponse, ListTestPointError, LookupError, NO_QUERY,
    NO_RESPONSE, QueryError, ResolverSettings, Target, Zone,
};

const KEY: &str = "k3yk3yk3ys3cr3tdqs0000000a";

/// Short enough to keep timeout tests quick, long enough for a loaded CI machine.
const SHORT_TIMEOUT: Duration = Duration::from_millis(500);

fn key() -> ListKey {
    ListKey::new(KEY).unwrap()
}

fn target(text: &str) -> Target {
    Target::parse(text).unwrap()
}

fn code(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn resolver(server: &TestDnsServer, timeout: Duration, attempts: usize) -> DnsblResolver {
    DnsblResolver::new(ResolverSettings {
        server: Some(server.addr()),
        timeout,
        attempts,
        // The resolver's own zone: query_list must not use it.
        zone: Zone::default(),
    })
    .unwrap()
}

/// The built-in catalogue, served with `key`, and a resolver that asks the server.
async fn serve(key: Option<&ListKey>) -> (Catalogue, TestDnsServer, DnsblResolver) {
    let catalogue = Catalogue::builtin().unwrap();
    let server = TestDnsServer::start_catalogue(&catalogue, key)
        .await
        .unwrap();
    let resolver = resolver(&server, Duration::from_secs(5), 2);
    (catalogue, server, resolver)
}

/// The listing names of a response, or its error.
fn names(response: &ListResponse) -> Result<Vec<String>, ListLookupError> {
    match &response.result {
        Ok(ListOutcome::Listed(listings)) => Ok(listings.iter().map(|l| l.name.clone()).collect()),
        Ok(ListOutcome::NotListed) => Ok(Vec::new()),
        Err(error) => Err(error.clone()),
    }
}

/// A target each list can be asked about.
fn some_target(list: &Blocklist) -> Target {
    match list.kind {
        secworks_dnsbl::ListKind::Ip => target("192.0.2.99"),
        secworks_dnsbl::ListKind::Domain => target("listed.example.net"),
    }
}

#[tokio::test]
async fn every_builtin_list_passes_its_test_points() {
    let key = key();
    let (catalogue, server, resolver) = serve(Some(&key)).await;
    for list in catalogue.lists() {
        let report = resolver.check_list_test_points(list, Some(&key)).await;
        assert_eq!(report.result, Ok(()), "{}", list.id);
        assert_eq!(report.queries, list.test_points.len() as u64, "{}", list.id);
        assert_eq!(
            server.queries_for(&list.id),
            list.test_points.len() as u64,
            "{}",
            list.id
        );
    }
    // ZEN and AuthBL take IPv6, and their IPv6 test points were among those asked.
    let zen = catalogue.get("spamhaus-zen").unwrap();
    assert_eq!(zen.test_points.len(), 4);
}

#[tokio::test]
async fn without_a_key_keyed_lists_are_not_asked() {
    let (catalogue, server, resolver) = serve(None).await;
    for list in catalogue.lists() {
        let report = resolver.check_list_test_points(list, None).await;
        if list.needs_key() {
            assert_eq!(report.queries, 0, "{}", list.id);
            assert_eq!(
                report.result,
                Err(ListTestPointError::Lookup {
                    list: list.id.clone(),
                    point: first_point(list),
                    listed: true,
                    error: Box::new(ListLookupError::Query(QueryError::KeyRequired {
                        list: list.id.clone()
                    })),
                }),
                "{}",
                list.id
            );
        } else {
            assert_eq!(report.result, Ok(()), "{}", list.id);
        }
    }
    let zrd = catalogue.get("spamhaus-zrd").unwrap();
    let response = resolver.query_list(zrd, None, &target("example.com")).await;
    assert_eq!(
        response.result,
        Err(ListLookupError::Query(QueryError::KeyRequired {
            list: "spamhaus-zrd".into()
        }))
    );
    assert_eq!(response.queries, 0);
    assert_eq!(response.evidence.rcode, NO_QUERY);
    assert_eq!(response.evidence.query_name, "");
    assert_eq!(response.evidence.resolver, server.addr());
    // Not served either: a list that needs a key and gets none has no zone on the server.
    assert_eq!(server.queries_for("spamhaus-zrd"), 0);
}

fn first_point(list: &Blocklist) -> String {
    match &list.test_points[0].query {
        secworks_dnsbl::TestTarget::Ip(ip) => ip.to_string(),
        secworks_dnsbl::TestTarget::Domain(domain) => domain.clone(),
    }
}

#[tokio::test]
async fn listings_decode_by_each_lists_own_codes() {
    let (catalogue, server, resolver) = serve(None).await;
    let list = |id: &str| catalogue.get(id).unwrap();
    let cases: [(&str, &str, Vec<Ipv4Addr>, Vec<&str>); 8] = [
        (
            "spamcop",
            "192.0.2.1",
            vec![code("127.0.0.2")],
            vec!["SCBL"],
        ),
        (
            "spamhaus-zen",
            "192.0.2.1",
            vec![code("127.0.0.4"), code("127.0.0.2")],
            vec!["SBL", "XBL"],
        ),
        (
            "barracuda",
            "192.0.2.1",
            vec![code("127.0.0.2")],
            vec!["BRBL"],
        ),
        (
            "mailspike",
            "192.0.2.1",
            vec![code("127.0.0.10")],
            vec!["L5"],
        ),
        (
            "spamhaus-dbl",
            "listed.example.net",
            vec![code("127.0.1.4"), code("127.0.1.102")],
            vec!["phish", "abused legit"],
        ),
        (
            "uribl",
            "listed.example.net",
            vec![code("127.0.0.14")],
            vec!["black", "grey", "red"],
        ),
        (
            "surbl",
            "listed.example.net",
            vec![code("127.0.0.88")],
            vec!["PH", "MW", "ABUSE"],
        ),
        (
            "uceprotect-1",
            "192.0.2.1",
            vec![code("127.0.0.2")],
            vec!["UCEPROTECT-1"],
        ),
    ];
    for (id, what, codes, expected) in cases {
        server
            .answer(list(id), &target(what), TestAnswer::Records(codes))
            .unwrap();
        let response = resolver.query_list(list(id), None, &target(what)).await;
        assert_eq!(
            names(&response),
            Ok(expected.iter().map(|s| s.to_string()).collect()),
            "{id}"
        );
        assert_eq!(response.evidence.rcode, "NOERROR", "{id}");
        // Asked in the list's zone, not the resolver's.
        assert_eq!(
            server.last_query_name().unwrap(),
            list(id).target_query_name(&target(what), None).unwrap(),
            "{id}"
        );
    }
}

#[tokio::test]
async fn targets_are_queried_in_canonical_form() {
    let (catalogue, server, resolver) = serve(None).await;
    let zen = catalogue.get("spamhaus-zen").unwrap();
    let dbl = catalogue.get("spamhaus-dbl").unwrap();

    let response = resolver.query_list(zen, None, &target("2001:db8::2")).await;
    assert_eq!(response.result, Ok(ListOutcome::NotListed));
    assert!(
        response
            .evidence
            .query_name
            .ends_with(".8.b.d.0.1.0.0.2.zen.spamhaus.org."),
        "{}",
        response.evidence.query_name
    );
    // IPv4-mapped: asked as the IPv4 address.
    resolver
        .query_list(zen, None, &target("::ffff:192.0.2.7"))
        .await;
    assert_eq!(
        server.last_query_name().unwrap(),
        "7.2.0.192.zen.spamhaus.org."
    );
    // IDNA: asked in its ASCII form.
    resolver
        .query_list(dbl, None, &target("Bücher.example"))
        .await;
    assert_eq!(
        server.last_query_name().unwrap(),
        "xn--bcher-kva.example.dbl.spamhaus.org."
    );
}

#[tokio::test]
async fn documented_error_answers_are_errors_never_listings() {
    let (catalogue, server, resolver) = serve(None).await;
    let mut checked = 0;
    for list in catalogue.lists().iter().filter(|l| !l.needs_key()) {
        let errors: Vec<(Ipv4Addr, ErrorAnswerKind)> = match &list.decoding {
            Decoding::Codes { errors, .. } => errors.iter().map(|e| (e.value, e.kind)).collect(),
            Decoding::Bits { errors, .. } => errors
                .iter()
                .map(|e| (Ipv4Addr::new(127, 0, 0, e.value), e.kind))
                .collect(),
        };
        let what = some_target(list);
        for (value, kind) in errors {
            server
                .answer(list, &what, TestAnswer::Records(vec![value]))
                .unwrap();
            let response = resolver.query_list(list, None, &what).await;
            let error = response.result.unwrap_err();
            assert_eq!(error.error_kind(), Some(kind), "{} {value}", list.id);
            assert_eq!(
                error.is_rate_limited(),
                kind == ErrorAnswerKind::RateLimited,
                "{} {value}",
                list.id
            );
            assert_eq!(
                error.needs_attention(),
                kind != ErrorAnswerKind::RateLimited
            );
            assert!(error.to_string().contains(&list.id), "{error}");
            assert_eq!(response.reason, None);
            checked += 1;
        }
    }
    // ZEN 5, DBL 6, SURBL 1, URIBL 1 (spamcop, barracuda, mailspike, psbl and
    // uceprotect-1 document none).
    assert_eq!(checked, 13);

    // The ones the brief names, by value.
    let zen = catalogue.get("spamhaus-zen").unwrap();
    let dbl = catalogue.get("spamhaus-dbl").unwrap();
    let uribl = catalogue.get("uribl").unwrap();
    for (list, what, value, kind) in [
        (
            zen,
            "192.0.2.5",
            "127.255.255.254",
            ErrorAnswerKind::ResolverBlocked,
        ),
        (
            zen,
            "192.0.2.5",
            "127.255.255.255",
            ErrorAnswerKind::RateLimited,
        ),
        (
            dbl,
            "listed.example.net",
            "127.0.1.255",
            ErrorAnswerKind::Misconfigured,
        ),
        // The blocked bit wins over listing bits beside it.
        (
            uribl,
            "listed.example.net",
            "127.0.0.3",
            ErrorAnswerKind::ResolverBlocked,
        ),
    ] {
        server
            .answer(list, &target(what), TestAnswer::Records(vec![code(value)]))
            .unwrap();
        let error = resolver
            .query_list(list, None, &target(what))
            .await
            .result
            .unwrap_err();
        assert_eq!(error.error_kind(), Some(kind), "{} {value}", list.id);
    }
}

#[tokio::test]
async fn undocumented_codes_are_errors() {
    let (catalogue, server, resolver) = serve(None).await;
    let cases = [
        ("spamcop", "192.0.2.1", "127.0.0.3"),
        ("spamcop", "192.0.2.1", "127.255.255.254"),
        ("spamhaus-zen", "192.0.2.1", "10.0.0.1"),
        ("mailspike", "192.0.2.1", "127.0.0.13"),
        ("spamhaus-dbl", "listed.example.net", "127.0.0.2"),
        ("uribl", "listed.example.net", "127.0.0.48"),
        ("surbl", "listed.example.net", "10.0.0.8"),
    ];
    for (id, what, value) in cases {
        let list = catalogue.get(id).unwrap();
        server
            .answer(list, &target(what), TestAnswer::Records(vec![code(value)]))
            .unwrap();
        let response = resolver.query_list(list, None, &target(what)).await;
        let error = response.result.unwrap_err();
        assert!(
            matches!(
                &error,
                ListLookupError::Answer(
                    ListError::UndocumentedCode { .. }
                        | ListError::NoDocumentedBit { .. }
                        | ListError::NotLoopback { .. }
                )
            ),
            "{id} {value}: {error:?}"
        );
        assert!(!error.is_retryable() && error.needs_attention(), "{id}");
        assert_eq!(response.evidence.rcode, "NOERROR");
    }
}

#[tokio::test]
async fn dns_failures_are_errors_with_their_response_code() {
    let (catalogue, server, resolver) = serve(None).await;
    let spamcop = catalogue.get("spamcop").unwrap();
    let what = target("192.0.2.40");
    let cases = [
        (TestAnswer::NoData, "NOERROR", false),
        (TestAnswer::Records(Vec::new()), "NOERROR", false),
        (TestAnswer::ServFail, "SERVFAIL", true),
        (TestAnswer::Refused, "REFUSED", false),
    ];
    for (answer, rcode, retryable) in cases {
        server.answer(spamcop, &what, answer.clone()).unwrap();
        let response = resolver.query_list(spamcop, None, &what).await;
        let error = response.result.unwrap_err();
        assert_eq!(response.evidence.rcode, rcode, "{answer:?}");
        assert_eq!(error.is_retryable(), retryable, "{answer:?}");
        assert_eq!(error.needs_attention(), !retryable, "{answer:?}");
        assert!(error.to_string().contains("spamcop"), "{error}");
        assert_eq!(response.evidence.resolver, server.addr());
        assert_eq!(response.queries, 1);
    }
    server.answer(spamcop, &what, TestAnswer::NoData).unwrap();
    assert_eq!(
        resolver.query_list(spamcop, None, &what).await.result,
        Err(ListLookupError::Answer(ListError::NoData {
            list: "spamcop".into()
        }))
    );
    server.answer(spamcop, &what, TestAnswer::ServFail).unwrap();
    assert_eq!(
        resolver.query_list(spamcop, None, &what).await.result,
        Err(ListLookupError::Dns {
            list: "spamcop".into(),
            error: LookupError::ServFail
        })
    );
}

#[tokio::test]
async fn silence_and_slow_answers_beyond_the_timeout_are_timeouts() {
    let catalogue = Catalogue::builtin().unwrap();
    let server = TestDnsServer::start_catalogue(&catalogue, None)
        .await
        .unwrap();
    let resolver = resolver(&server, SHORT_TIMEOUT, 1);
    let psbl = catalogue.get("psbl").unwrap();
    let listed = TestAnswer::Records(vec![code("127.0.0.2")]);

    for answer in [
        TestAnswer::Drop,
        TestAnswer::Slow(SHORT_TIMEOUT * 3, Box::new(listed.clone())),
    ] {
        let what = target("192.0.2.50");
        server.answer(psbl, &what, answer.clone()).unwrap();
        let response = resolver.query_list(psbl, None, &what).await;
        assert_eq!(
            response.result,
            Err(ListLookupError::Dns {
                list: "psbl".into(),
                error: LookupError::Timeout
            }),
            "{answer:?}"
        );
        assert_eq!(response.evidence.rcode, NO_RESPONSE);
        assert_eq!(response.evidence.ttl, None);
        let error = response.result.unwrap_err();
        assert!(error.is_retryable() && !error.needs_attention());
        assert_eq!(error.to_string(), "blocklist psbl: DNS timeout");
    }

    // Slow but within the timeout: an answer.
    let what = target("192.0.2.51");
    server
        .answer(
            psbl,
            &what,
            TestAnswer::Slow(Duration::from_millis(50), Box::new(listed)),
        )
        .unwrap();
    let response = resolver.query_list(psbl, None, &what).await;
    assert_eq!(names(&response), Ok(vec!["PSBL".to_owned()]));
}

#[tokio::test]
async fn evidence_shows_the_ttls_the_server_sent() {
    let (catalogue, server, resolver) = serve(None).await;
    let zen = catalogue.get("spamhaus-zen").unwrap();
    let what = target("192.0.2.60");

    // NXDOMAIN: min(SOA TTL, SOA MINIMUM).
    let response = resolver.query_list(zen, None, &what).await;
    assert_eq!(response.result, Ok(ListOutcome::NotListed));
    assert_eq!(response.evidence.rcode, "NXDOMAIN");
    assert_eq!(response.evidence.ttl, Some(DEFAULT_NEGATIVE_TTL));
    assert_eq!(response.evidence.query_name, "60.2.0.192.zen.spamhaus.org.");
    server.set_negative_ttl(SOA_TTL * 2);
    let response = resolver.query_list(zen, None, &what).await;
    assert_eq!(
        response.evidence.ttl,
        Some(SOA_TTL),
        "the SOA's own TTL is lower"
    );
    server.set_negative_ttl(60);
    let response = resolver.query_list(zen, None, &what).await;
    assert_eq!(response.evidence.ttl, Some(60));

    // A records: as sent, not clamped by the resolver (whose cache bound is 0).
    server
        .answer(
            zen,
            &what,
            TestAnswer::Records(vec![code("127.0.0.2"), code("127.0.0.10")]),
        )
        .unwrap();
    let response = resolver.query_list(zen, None, &what).await;
    assert_eq!(response.evidence.ttl, Some(3600));
    assert_eq!(response.evidence.rcode, "NOERROR");
    server.set_ttl(123);
    let response = resolver.query_list(zen, None, &what).await;
    assert_eq!(response.evidence.ttl, Some(123));

    // Errors without a SOA or records carry none.
    server.answer(zen, &what, TestAnswer::ServFail).unwrap();
    let response = resolver.query_list(zen, None, &what).await;
    assert_eq!(response.evidence.ttl, None);
}

#[tokio::test]
async fn txt_reasons_are_fetched_only_for_listings_on_lists_that_publish_them() {
    let (catalogue, server, resolver) = serve(None).await;
    let zen = catalogue.get("spamhaus-zen").unwrap();
    let barracuda = catalogue.get("barracuda").unwrap();
    let listed = TestAnswer::Records(vec![code("127.0.0.2"), code("127.0.0.4")]);

    let what = target("192.0.2.70");
    server.answer(zen, &what, listed.clone()).unwrap();
    server
        .txt(zen, &what, "Listed by XBL, see https://example.org/xbl")
        .unwrap();
    server
        .txt(zen, &what, "Listed by SBL, see https://example.org/sbl")
        .unwrap();
    let response = resolver.query_list(zen, None, &what).await;
    assert_eq!(
        names(&response),
        Ok(vec!["SBL".to_owned(), "XBL".to_owned()])
    );
    assert_eq!(
        response.reason.as_deref(),
        Some(
            "Listed by SBL, see https://example.org/sbl; Listed by XBL, see https://example.org/xbl"
        )
    );
    assert_eq!(response.queries, 2);
    assert_eq!(
        response.evidence.rcode, "NOERROR",
        "evidence is the A query's"
    );

    // A listing whose TXT query fails (NODATA here) still stands.
    let bare = target("192.0.2.71");
    server.answer(zen, &bare, listed.clone()).unwrap();
    let response = resolver.query_list(zen, None, &bare).await;
    assert_eq!(
        names(&response),
        Ok(vec!["SBL".to_owned(), "XBL".to_owned()])
    );
    assert_eq!(response.reason, None);
    assert_eq!(response.queries, 2);

    // Not listed: no TXT query.
    let clean = target("192.0.2.72");
    server.txt(zen, &clean, "should not be asked for").unwrap();
    let before = server.queries_for("spamhaus-zen");
    let response = resolver.query_list(zen, None, &clean).await;
    assert_eq!(response.result, Ok(ListOutcome::NotListed));
    assert_eq!((response.reason, response.queries), (None, 1));
    assert_eq!(server.queries_for("spamhaus-zen"), before + 1);

    // An error answer: no TXT query.
    server
        .answer(
            zen,
            &clean,
            TestAnswer::Records(vec![code("127.255.255.254")]),
        )
        .unwrap();
    let response = resolver.query_list(zen, None, &clean).await;
    assert!(response.result.is_err());
    assert_eq!((response.reason, response.queries), (None, 1));

    // A list without TXT reasons: none asked, even when the server has one.
    server
        .answer(
            barracuda,
            &what,
            TestAnswer::Records(vec![code("127.0.0.2")]),
        )
        .unwrap();
    server.txt(barracuda, &what, "not published").unwrap();
    let before = server.queries_for("barracuda");
    let response = resolver.query_list(barracuda, None, &what).await;
    assert!(matches!(response.result, Ok(ListOutcome::Listed(_))));
    assert_eq!((response.reason, response.queries), (None, 1));
    assert_eq!(server.queries_for("barracuda"), before + 1);
}

#[tokio::test]
async fn the_key_never_shows() {
    let key = key();
    let catalogue = Catalogue::builtin().unwrap();
    let server = TestDnsServer::start_catalogue(&catalogue, Some(&key))
        .await
        .unwrap();
    let resolver = resolver(&server, SHORT_TIMEOUT, 1);
    let zrd = catalogue.get("spamhaus-zrd").unwrap();
    let zen = catalogue.get("spamhaus-zen").unwrap();
    let shown = |response: &ListResponse| format!("{response:?} {:?}", response.result);

    let response = resolver
        .query_list(zrd, Some(&key), &target("dbltest.com"))
        .await;
    assert_eq!(names(&response), Ok(vec!["ZRD 2h".to_owned()]));
    assert_eq!(
        response.evidence.query_name,
        "dbltest.com.<key>.zrd.dq.spamhaus.net."
    );
    assert_eq!(
        server.last_query_name().unwrap(),
        format!("dbltest.com.{KEY}.zrd.dq.spamhaus.net.")
    );
    assert!(!shown(&response).contains(KEY));

    let what = target("bad.example.net");
    let failures = [
        TestAnswer::Records(vec![code("127.255.255.250")]),
        TestAnswer::Records(vec![code("127.255.255.251")]),
        TestAnswer::Records(vec![code("127.255.255.255")]),
        TestAnswer::Records(vec![code("127.0.2.99")]),
        TestAnswer::Records(vec![code("10.0.0.1")]),
        TestAnswer::NoData,
        TestAnswer::ServFail,
        TestAnswer::Refused,
        TestAnswer::Drop,
    ];
    for answer in failures {
        server.answer(zrd, &what, answer.clone()).unwrap();
        let response = resolver.query_list(zrd, Some(&key), &what).await;
        let error = response.result.as_ref().unwrap_err();
        let text = format!("{error} {error:?} {}", shown(&response));
        assert!(!text.contains(KEY), "{answer:?}: {text}");
        assert!(text.contains("spamhaus-zrd"), "{answer:?}: {text}");
        assert_eq!(
            response.evidence.query_name,
            "bad.example.net.<key>.zrd.dq.spamhaus.net."
        );
    }

    // A TXT reason that echoes the query name.
    let listed = target("192.0.2.80");
    server
        .answer(zen, &listed, TestAnswer::Records(vec![code("127.0.0.2")]))
        .unwrap();
    let echoed = format!(
        "Listed by SBL: 80.2.0.192.{}.zen.dq.spamhaus.net",
        KEY.to_uppercase()
    );
    server.txt(zen, &listed, &echoed).unwrap();
    let response = resolver.query_list(zen, Some(&key), &listed).await;
    assert_eq!(
        response.reason.as_deref(),
        Some("Listed by SBL: 80.2.0.192.<key>.zen.dq.spamhaus.net")
    );

    // Test point failures.
    server.fail_test_points("spamhaus-zrd", true);
    let report = resolver.check_list_test_points(zrd, Some(&key)).await;
    let error = report.result.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!text.contains(KEY), "{text}");
    server.answer_name(
        &format!("2.0.0.127.{KEY}.authbl.dq.spamhaus.net"),
        TestAnswer::Records(vec![code("127.255.255.251")]),
    );
    let authbl = catalogue.get("spamhaus-authbl").unwrap();
    let error = resolver
        .check_list_test_points(authbl, Some(&key))
        .await
        .result
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!text.contains(KEY), "{text}");
    assert!(text.contains("DQS key not accepted"), "{text}");
}

#[tokio::test]
async fn test_point_failures_name_the_list_and_what_came() {
    let (catalogue, server, resolver) = serve(None).await;
    let spamcop = catalogue.get("spamcop").unwrap();

    // Blocked: the listed point is NXDOMAIN. One query, then it stops.
    server.fail_test_points("spamcop", true);
    let report = resolver.check_list_test_points(spamcop, None).await;
    assert_eq!(report.queries, 1);
    let error = report.result.unwrap_err();
    assert_eq!(
        error,
        ListTestPointError::ListedPointNotListed {
            list: "spamcop".into(),
            point: "127.0.0.2".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "blocklist spamcop: test point 127.0.0.2 must be listed but is not: the resolver may \
         be blocked by the blocklist (NXDOMAIN for everything)"
    );
    server.fail_test_points("spamcop", false);
    assert_eq!(
        resolver.check_list_test_points(spamcop, None).await.result,
        Ok(())
    );

    // Wildcard: the unlisted point is listed.
    server.answer_name(
        "1.0.0.127.bl.spamcop.net.",
        TestAnswer::Records(vec![code("127.0.0.2")]),
    );
    let error = resolver
        .check_list_test_points(spamcop, None)
        .await
        .result
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "blocklist spamcop: test point 127.0.0.1 must not be listed but is (SCBL (127.0.0.2)): \
         the blocklist or resolver answers every query as listed"
    );

    // An error answer on a listed point.
    let zen = catalogue.get("spamhaus-zen").unwrap();
    server.answer_name(
        "2.0.0.127.zen.spamhaus.org",
        TestAnswer::Records(vec![code("127.255.255.254")]),
    );
    let error = resolver
        .check_list_test_points(zen, None)
        .await
        .result
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "blocklist spamhaus-zen: test point 127.0.0.2 (must be listed) could not be checked: \
         blocklist spamhaus-zen answered with an error: public resolver, query via a \
         public/open resolver or one without attributable reverse DNS (127.255.255.254)"
    );

    // An IPv6 test point that fails is named as written.
    server.answer_name(
        "2.0.0.127.zen.spamhaus.org",
        TestAnswer::Records(vec![code("127.0.0.2")]),
    );
    let v6_listed = zen
        .test_point_query_name(&zen.test_points[2], None)
        .unwrap();
    server.answer_name(&v6_listed, TestAnswer::ServFail);
    let report = resolver.check_list_test_points(zen, None).await;
    assert_eq!(report.queries, 3);
    let error = report.result.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("blocklist spamhaus-zen: test point ::ffff:7f00:2 (must be listed)"),
        "{error}"
    );

    // A domain list whose test point answers an undocumented code.
    let uribl = catalogue.get("uribl").unwrap();
    server.answer_name(
        "test.uribl.com.multi.uribl.com",
        TestAnswer::Records(vec![code("127.0.0.64")]),
    );
    let error = resolver
        .check_list_test_points(uribl, None)
        .await
        .result
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ListTestPointError::Lookup {
                list,
                point,
                listed: true,
                error,
            } if list == "uribl" && point == "test.uribl.com"
                && matches!(**error, ListLookupError::Answer(ListError::NoDocumentedBit { .. }))
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn query_errors_send_nothing() {
    let (catalogue, server, resolver) = serve(None).await;
    let dbl = catalogue.get("spamhaus-dbl").unwrap();
    let spamcop = catalogue.get("spamcop").unwrap();
    let cases = [
        (
            dbl,
            target("192.0.2.1"),
            QueryError::WrongKind {
                list: "spamhaus-dbl".into(),
                kind: secworks_dnsbl::ListKind::Domain,
                wanted: secworks_dnsbl::ListKind::Ip,
            },
        ),
        (
            spamcop,
            target("2001:db8::1"),
            QueryError::FamilyNotSupported {
                list: "spamcop".into(),
                ip: "2001:db8::1".parse().unwrap(),
            },
        ),
    ];
    for (list, what, expected) in cases {
        let response = resolver.query_list(list, None, &what).await;
        let error = response.result.unwrap_err();
        assert_eq!(error, ListLookupError::Query(expected));
        assert!(error.to_string().contains(&list.id), "{error}");
        assert!(!error.is_retryable() && !error.needs_attention());
        assert_eq!(response.queries, 0);
        assert_eq!(response.evidence.rcode, NO_QUERY);
    }
    assert_eq!(server.queries(), 0);
}

#[tokio::test]
async fn answers_are_never_cached() {
    let (catalogue, server, resolver) = serve(None).await;
    let psbl = catalogue.get("psbl").unwrap();
    let what = target("192.0.2.90");
    assert_eq!(
        resolver.query_list(psbl, None, &what).await.result,
        Ok(ListOutcome::NotListed)
    );
    server
        .answer(psbl, &what, TestAnswer::Records(vec![code("127.0.0.2")]))
        .unwrap();
    assert!(matches!(
        resolver.query_list(psbl, None, &what).await.result,
        Ok(ListOutcome::Listed(_))
    ));
    server.answer(psbl, &what, TestAnswer::NxDomain).unwrap();
    assert_eq!(
        resolver.query_list(psbl, None, &what).await.result,
        Ok(ListOutcome::NotListed)
    );
    // Three A queries, and the TXT query for the listing (PSBL publishes reasons).
    assert_eq!(server.queries_for("psbl"), 4);
}
