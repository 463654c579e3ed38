//! The resolver's raw lookup rate against the in-process test server, at several
//! concurrencies: the ceiling that the service's end-to-end rate is compared with.
//!
//! ```text
//! cargo run --release -p secworks-dnsbl --features test-server --example raw_rate -- [LOOKUPS]
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use secworks_dnsbl::test_server::{TestAnswer, TestDnsServer};
use secworks_dnsbl::{Catalogue, DnsblResolver, ResolverSettings, Zone, raw_rate};

const CONCURRENCIES: [usize; 3] = [1, 64, 256];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lookups = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 10_000,
    };

    let server = TestDnsServer::start("zen.spamhaus.org").await?;
    let resolver = DnsblResolver::new(ResolverSettings {
        server: Some(server.addr()),
        timeout: Duration::from_secs(2),
        attempts: 2,
        zone: Zone::default(),
    })?;
    // The list as the service asks it, ZEN by default.
    let catalogue = Catalogue::builtin()?;
    let zen = catalogue
        .get("spamhaus-zen")
        .ok_or("no spamhaus-zen in the catalogue")?;

    // Distinct addresses in 10.0.0.0/8; one in ten listed, the rest NXDOMAIN, as in a
    // typical batch.
    let ips: Vec<IpAddr> = (0..lookups)
        .map(|i: u32| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
        .collect();
    for ip in ips.iter().step_by(10) {
        server.set(*ip, TestAnswer::Records(vec![Ipv4Addr::new(127, 0, 0, 2)]));
    }

    // One warm-up pass so that sockets and allocations are not measured.
    raw_rate(&resolver, zen, &ips[..ips.len().min(500)], 16).await;

    println!("| concurrency | lookups | errors | seconds | lookups/s |");
    println!("|---:|---:|---:|---:|---:|");
    for concurrency in CONCURRENCIES {
        let rate = raw_rate(&resolver, zen, &ips, concurrency).await;
        println!(
            "| {concurrency} | {} | {} | {:.2} | {:.0} |",
            rate.lookups,
            rate.errors,
            rate.elapsed.as_secs_f64(),
            rate.per_second()
        );
    }
    server.stop().await?;
    Ok(())
}
