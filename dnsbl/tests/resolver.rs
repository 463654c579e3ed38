//! The resolver against a real DNS server on loopback (hickory-server in this process).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use secworks_dnsbl::test_server::{TestAnswer, TestDnsServer};
use secworks_dnsbl::{
    DnsblResolver, LookupError, Outcome, RefusalReason, ResolverSettings, TestPointError, Zone,
    raw_rate,
};

const ZEN: &str = "zen.spamhaus.org";
const DQS_KEY: &str = "k3yk3yk3ys3cr3tdqs0000000a";

/// Short enough to keep timeout tests quick, long enough for a loaded CI machine.
const SHORT_TIMEOUT: Duration = Duration::from_millis(500);

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn codes(last: &[u8]) -> Vec<Ipv4Addr> {
    last.iter().map(|&d| Ipv4Addr::new(127, 0, 0, d)).collect()
}

fn resolver(
    server: &TestDnsServer,
    zone: Zone,
    timeout: Duration,
    attempts: usize,
) -> DnsblResolver {
    DnsblResolver::new(ResolverSettings {
        server: Some(server.addr()),
        timeout,
        attempts,
        zone,
    })
    .unwrap()
}

async fn zen() -> (TestDnsServer, DnsblResolver) {
    let server = TestDnsServer::start(ZEN).await.unwrap();
    let resolver = resolver(&server, Zone::default(), Duration::from_secs(5), 2);
    (server, resolver)
}

#[tokio::test]
async fn test_points_are_listed_and_not_listed() {
    let (_server, resolver) = zen().await;

    let listed = resolver.lookup(ip("127.0.0.2")).await.unwrap();
    assert_eq!(listed, Outcome::Listed(codes(&[2, 4, 10])));
    assert_eq!(listed.response_code(), "127.0.0.2, 127.0.0.4, 127.0.0.10");
    let lists: Vec<_> = listed.listings().iter().map(|l| l.list).collect();
    assert_eq!(lists, ["SBL", "XBL", "PBL"]);

    let clean = resolver.lookup(ip("127.0.0.1")).await.unwrap();
    assert_eq!(clean, Outcome::NotListed);
    assert_eq!(clean.response_code(), "No Response");

    assert_eq!(
        resolver.lookup(ip("192.0.2.77")).await,
        Ok(Outcome::NotListed)
    );
}

#[tokio::test]
async fn ipv6_addresses_are_asked_by_nibbles() {
    let (server, resolver) = zen().await;

    assert_eq!(
        resolver.lookup(ip("2001:db8::2")).await,
        Ok(Outcome::Listed(codes(&[2])))
    );
    assert_eq!(
        server.last_query_name().unwrap(),
        "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org."
    );
    assert_eq!(
        resolver.lookup(ip("2001:db8::3")).await,
        Ok(Outcome::NotListed)
    );
    // IPv4-mapped: asked as the IPv4 address.
    assert_eq!(
        resolver.lookup(ip("::ffff:127.0.0.2")).await,
        Ok(Outcome::Listed(codes(&[2, 4, 10])))
    );
    assert_eq!(
        server.last_query_name().unwrap(),
        "2.0.0.127.zen.spamhaus.org."
    );
}

#[tokio::test]
async fn answers_are_never_cached() {
    let (server, resolver) = zen().await;
    let address = ip("192.0.2.10");

    // The server's answers carry a TTL of an hour; every change must still show at once.
    assert_eq!(resolver.lookup(address).await, Ok(Outcome::NotListed));
    server.set(address, TestAnswer::Records(codes(&[11, 3])));
    assert_eq!(
        resolver.lookup(address).await,
        Ok(Outcome::Listed(codes(&[3, 11])))
    );
    server.set(address, TestAnswer::NxDomain);
    assert_eq!(resolver.lookup(address).await, Ok(Outcome::NotListed));

    let before = server.queries();
    for _ in 0..3 {
        resolver.lookup(address).await.unwrap();
    }
    assert_eq!(server.queries(), before + 3);
}

#[tokio::test]
async fn every_blocklist_error_code_is_an_error() {
    let (server, resolver) = zen().await;
    let address = ip("192.0.2.20");
    let cases = [
        (250, RefusalReason::DqsKeyDisabled),
        (251, RefusalReason::DqsKeyRejected),
        (252, RefusalReason::ZoneNameTypo),
        (254, RefusalReason::OpenResolver),
        (255, RefusalReason::ExcessiveQueries),
        (9, RefusalReason::Other),
    ];
    for (last, reason) in cases {
        let code = Ipv4Addr::new(127, 255, 255, last);
        server.set(address, TestAnswer::Records(vec![code]));
        let error = resolver.lookup(address).await.unwrap_err();
        assert_eq!(error, LookupError::Refused { reason, code }, "{code}");
        assert_eq!(error.is_rate_limited(), last == 255, "{code}");
    }
    assert_eq!(
        resolver.lookup(address).await.unwrap_err().to_string(),
        "blocklist refused the query: unrecognised blocklist error code (127.255.255.9)"
    );

    server.set(
        address,
        TestAnswer::Records(vec![
            Ipv4Addr::new(127, 0, 0, 2),
            Ipv4Addr::new(127, 255, 255, 255),
        ]),
    );
    let error = resolver.lookup(address).await.unwrap_err();
    assert!(error.is_rate_limited());
    assert!(error.is_retryable());
    assert_eq!(
        error.to_string(),
        "blocklist refused the query: excessive queries (127.255.255.255)"
    );
}

#[tokio::test]
async fn answers_that_are_not_blocklist_answers_are_errors() {
    let (server, resolver) = zen().await;
    let address = ip("192.0.2.30");

    server.set(
        address,
        TestAnswer::Records(vec![Ipv4Addr::new(198, 51, 100, 1)]),
    );
    assert_eq!(
        resolver.lookup(address).await,
        Err(LookupError::UnexpectedAnswer {
            code: Ipv4Addr::new(198, 51, 100, 1)
        })
    );

    server.set(address, TestAnswer::NoData);
    assert_eq!(resolver.lookup(address).await, Err(LookupError::NoData));
    server.set(address, TestAnswer::Records(Vec::new()));
    assert_eq!(resolver.lookup(address).await, Err(LookupError::NoData));
}

#[tokio::test]
async fn servfail_and_refused_are_errors() {
    let (server, resolver) = zen().await;
    let address = ip("192.0.2.40");

    server.set(address, TestAnswer::ServFail);
    let error = resolver.lookup(address).await.unwrap_err();
    assert_eq!(error, LookupError::ServFail);
    assert_eq!(error.to_string(), "DNS server failure (SERVFAIL)");
    assert!(error.is_retryable());

    server.set(address, TestAnswer::Refused);
    let error = resolver.lookup(address).await.unwrap_err();
    assert_eq!(error, LookupError::DnsRefused);
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_zone_the_server_does_not_serve_is_refused() {
    let server = TestDnsServer::start("bl.example.org").await.unwrap();
    let resolver = resolver(&server, Zone::default(), Duration::from_secs(5), 1);
    assert_eq!(
        resolver.lookup(ip("127.0.0.2")).await,
        Err(LookupError::DnsRefused)
    );
}

#[tokio::test]
async fn silence_is_a_timeout() {
    let server = TestDnsServer::start(ZEN).await.unwrap();
    let resolver = resolver(&server, Zone::default(), SHORT_TIMEOUT, 2);
    let address = ip("192.0.2.50");

    server.set(address, TestAnswer::Drop);
    let error = resolver.lookup(address).await.unwrap_err();
    assert_eq!(error, LookupError::Timeout);
    assert_eq!(error.to_string(), "DNS timeout");
    assert!(error.is_retryable());
    // Both attempts reached the server (hickory also resends within an attempt).
    assert!(server.queries() >= 2, "{} queries", server.queries());

    // Other names are unaffected.
    assert_eq!(
        resolver.lookup(ip("127.0.0.2")).await,
        Ok(Outcome::Listed(codes(&[2, 4, 10])))
    );
}

#[tokio::test]
async fn a_server_that_goes_down_and_comes_back() {
    let server = TestDnsServer::start(ZEN).await.unwrap();
    let resolver = resolver(&server, Zone::default(), SHORT_TIMEOUT, 1);

    assert!(resolver.lookup(ip("127.0.0.2")).await.is_ok());
    server.set_down(true);
    assert_eq!(
        resolver.lookup(ip("127.0.0.2")).await,
        Err(LookupError::Timeout)
    );
    assert_eq!(
        resolver.lookup(ip("127.0.0.1")).await,
        Err(LookupError::Timeout)
    );
    server.set_down(false);
    assert_eq!(
        resolver.lookup(ip("127.0.0.2")).await,
        Ok(Outcome::Listed(codes(&[2, 4, 10])))
    );
    assert_eq!(
        resolver.lookup(ip("127.0.0.1")).await,
        Ok(Outcome::NotListed)
    );
}

#[tokio::test]
async fn a_stopped_server_gives_a_retryable_error() {
    let server = TestDnsServer::start(ZEN).await.unwrap();
    let resolver = resolver(&server, Zone::default(), SHORT_TIMEOUT, 1);
    assert!(resolver.lookup(ip("127.0.0.2")).await.is_ok());

    server.stop().await.unwrap();
    let error = resolver.lookup(ip("127.0.0.2")).await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
}

#[tokio::test]
async fn a_large_answer_falls_back_to_tcp() {
    let (server, resolver) = zen().await;
    let address = ip("192.0.2.60");
    // 120 A records (about 2 KB) do not fit in a UDP answer: the server truncates it and the
    // resolver must ask again over TCP.
    let many: Vec<Ipv4Addr> = (1..=120).map(|d| Ipv4Addr::new(127, 0, 0, d)).collect();
    server.set(address, TestAnswer::Records(many.clone()));
    assert_eq!(server.tcp_queries(), 0);
    assert_eq!(resolver.lookup(address).await, Ok(Outcome::Listed(many)));
    assert_eq!(server.tcp_queries(), 1);
}

#[tokio::test]
async fn check_test_points_passes_against_a_healthy_blocklist() {
    let (_server, resolver) = zen().await;
    assert_eq!(resolver.check_test_points().await, Ok(()));
}

#[tokio::test]
async fn check_test_points_fails_when_everything_is_nxdomain() {
    let (server, resolver) = zen().await;
    // What a blocklist does to a resolver it has blocked.
    server.set(ip("127.0.0.2"), TestAnswer::NxDomain);
    let error = resolver.check_test_points().await.unwrap_err();
    assert_eq!(error, TestPointError::ListedPointNotListed);
    assert_eq!(
        error.to_string(),
        "test point 127.0.0.2 is not listed: the resolver may be blocked by the blocklist \
         (NXDOMAIN for everything)"
    );
}

#[tokio::test]
async fn check_test_points_fails_when_everything_is_listed() {
    let (server, resolver) = zen().await;
    server.set_default(TestAnswer::Records(codes(&[2])));
    server.set(ip("127.0.0.1"), TestAnswer::Records(codes(&[2])));
    assert_eq!(
        resolver.check_test_points().await,
        Err(TestPointError::UnlistedPointListed {
            codes: "127.0.0.2".into()
        })
    );
}

#[tokio::test]
async fn check_test_points_reports_blocklist_errors() {
    let (server, resolver) = zen().await;
    server.set(
        ip("127.0.0.2"),
        TestAnswer::Records(vec![Ipv4Addr::new(127, 255, 255, 254)]),
    );
    let error = resolver.check_test_points().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "test point 127.0.0.2 could not be checked: blocklist refused the query: query via a \
         public/open resolver (127.255.255.254)"
    );
}

#[tokio::test]
async fn dqs_queries_carry_the_key_and_errors_never_do() {
    let server = TestDnsServer::start(&format!("{DQS_KEY}.zen.dq.spamhaus.net"))
        .await
        .unwrap();
    let resolver = resolver(&server, Zone::dqs(DQS_KEY).unwrap(), SHORT_TIMEOUT, 1);

    assert_eq!(
        resolver.lookup(ip("127.0.0.2")).await,
        Ok(Outcome::Listed(codes(&[2, 4, 10])))
    );
    assert_eq!(
        server.last_query_name().unwrap(),
        format!("2.0.0.127.{DQS_KEY}.zen.dq.spamhaus.net.")
    );
    assert_eq!(resolver.check_test_points().await, Ok(()));

    let address = ip("2001:db8::99");
    let failures = [
        TestAnswer::Records(vec![Ipv4Addr::new(127, 255, 255, 250)]),
        TestAnswer::Records(vec![Ipv4Addr::new(127, 255, 255, 251)]),
        TestAnswer::Records(vec![Ipv4Addr::new(10, 0, 0, 1)]),
        TestAnswer::NoData,
        TestAnswer::ServFail,
        TestAnswer::Refused,
        TestAnswer::Drop,
    ];
    for answer in failures {
        server.set(address, answer.clone());
        let error = resolver.lookup(address).await.unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(DQS_KEY), "{answer:?}: {shown}");
    }
    assert!(
        server
            .last_query_name()
            .unwrap()
            .ends_with(&format!(".{DQS_KEY}.zen.dq.spamhaus.net."))
    );

    let shown = format!("{resolver:?} {}", resolver.zone());
    assert!(!shown.contains(DQS_KEY), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_lookups_in_flight_at_once() {
    let (server, resolver) = zen().await;
    let listed = ip("198.51.100.1");
    server.set(listed, TestAnswer::Records(codes(&[3])));

    let ips: Vec<IpAddr> = (0..2_000u32)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i % 256)))
        .collect();
    let catalogue = secworks_dnsbl::Catalogue::builtin().unwrap();
    let zen = catalogue.get("spamhaus-zen").unwrap();
    let rate = raw_rate(&resolver, zen, &ips, 64).await;
    assert_eq!(rate.lookups, ips.len());
    assert_eq!(rate.errors, 0);

    // A clone shares the resolver; answers stay per name under concurrency.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let resolver = resolver.clone();
            tokio::spawn(async move {
                let address = if i % 2 == 0 {
                    listed
                } else {
                    ip("198.51.100.2")
                };
                (i, resolver.lookup(address).await)
            })
        })
        .collect();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        let expected = if i % 2 == 0 {
            Outcome::Listed(codes(&[3]))
        } else {
            Outcome::NotListed
        };
        assert_eq!(result, Ok(expected));
    }
}
