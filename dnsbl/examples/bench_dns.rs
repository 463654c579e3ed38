//! The DNS side of `benches/run`: the test DNS server in a process of its own, and the raw
//! resolver rate measured against it from another process.
//!
//! ```text
//! cargo run --release -p secworks-dnsbl --features test-server --example bench_dns
//! cargo run --release -p secworks-dnsbl --features test-server --example bench_dns -- \
//!     raw <SERVER> <FIRST_IPV4> <LOOKUPS> <CONCURRENCY>
//! ```
//!
//! Without arguments it starts a [`TestDnsServer`] for `zen.spamhaus.org` on loopback, prints
//! its address (`127.0.0.1:PORT`) on the first line, and serves until it is killed. Besides
//! the test points, one address in ten of 10.0.0.0/12 is listed (`127.0.0.2`) and every other
//! name is NXDOMAIN, as in a typical batch.
//!
//! `raw` looks `LOOKUPS` consecutive addresses from `FIRST_IPV4` up at `SERVER`, with
//! `CONCURRENCY` in flight and the resolver settings secworks uses by default (2 s timeout,
//! 2 attempts), and prints `lookups errors seconds lookups_per_second` on one line.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use secworks_dnsbl::test_server::{TestAnswer, TestDnsServer};
use secworks_dnsbl::{Catalogue, DnsblResolver, ResolverSettings, Zone, raw_rate};

type Error = Box<dyn std::error::Error>;

/// How many addresses from 10.0.0.0 on (10.0.0.0/12) one in ten is listed among.
const LISTED_RANGE: u32 = 1 << 20;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("raw") => match &args[1..] {
            [server, first, lookups, concurrency] => {
                raw(
                    server.parse()?,
                    first.parse()?,
                    lookups.parse()?,
                    concurrency.parse()?,
                )
                .await
            }
            _ => Err("usage: bench_dns raw <SERVER> <FIRST_IPV4> <LOOKUPS> <CONCURRENCY>".into()),
        },
        Some(other) => Err(format!("unknown command {other:?}: use `serve` or `raw`").into()),
    }
}

async fn serve() -> Result<(), Error> {
    let server = TestDnsServer::start("zen.spamhaus.org").await?;
    let listed = TestAnswer::Records(vec![Ipv4Addr::new(127, 0, 0, 2)]);
    for i in (0..LISTED_RANGE).step_by(10) {
        server.set(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), listed.clone());
    }
    println!("{}", server.addr());
    // Serve until killed; the process's end closes the sockets.
    std::future::pending::<()>().await;
    Ok(())
}

async fn raw(
    server: SocketAddr,
    first: Ipv4Addr,
    lookups: u32,
    concurrency: usize,
) -> Result<(), Error> {
    let resolver = DnsblResolver::new(ResolverSettings {
        server: Some(server),
        timeout: Duration::from_secs(2),
        attempts: 2,
        zone: Zone::default(),
    })?;
    // The list as the service asks it, ZEN by default.
    let catalogue = Catalogue::builtin()?;
    let zen = catalogue
        .get("spamhaus-zen")
        .ok_or("no spamhaus-zen in the catalogue")?;
    let first = u32::from(first);
    let ips: Vec<IpAddr> = (0..lookups)
        .map(|i| IpAddr::V4(Ipv4Addr::from(first.wrapping_add(i))))
        .collect();
    // Warm up sockets and allocations on addresses outside the measured ones.
    let warm_up: Vec<IpAddr> = (1..=500)
        .map(|i| IpAddr::V4(Ipv4Addr::from(first.wrapping_sub(i))))
        .collect();
    raw_rate(&resolver, zen, &warm_up, concurrency.min(16)).await;

    let rate = raw_rate(&resolver, zen, &ips, concurrency).await;
    println!(
        "{} {} {:.4} {:.0}",
        rate.lookups,
        rate.errors,
        rate.elapsed.as_secs_f64(),
        rate.per_second()
    );
    Ok(())
}
