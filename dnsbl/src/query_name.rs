//! The DNS name that asks a blocklist about one address (RFC 5782 §2.1 and §2.4).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::zone::Zone;

/// The fully qualified query name (with its trailing dot) for `ip` in `zone`.
///
/// IPv4 addresses are written as their four octets in reverse order
/// (`2.0.0.127.zen.spamhaus.org.`), IPv6 addresses as their 32 nibbles in reverse order, as in
/// `ip6.arpa`. An IPv4-mapped IPv6 address (`::ffff:127.0.0.2`) is the IPv4 address it maps:
/// blocklists list the IPv4 address, and querying the mapped form would miss the listing.
///
/// For a DQS zone the name holds the account key: never log it.
pub fn query_name(ip: IpAddr, zone: &Zone) -> String {
    query_name_as_given(ip.to_canonical(), zone)
}

/// [`query_name`] without mapping `::ffff:a.b.c.d` to IPv4: RFC 5782's IPv6 test points
/// (`::ffff:7f00:2`) are IPv4-mapped and must be asked in their IPv6 form.
pub(crate) fn query_name_as_given(ip: IpAddr, zone: &Zone) -> String {
    // An IPv6 address takes 64 characters: 32 nibbles, each followed by a dot.
    let mut name = String::with_capacity(64 + zone.suffix().len() + 1);
    match ip {
        IpAddr::V4(v4) => push_reversed_v4(&mut name, v4),
        IpAddr::V6(v6) => push_reversed_v6(&mut name, v6),
    }
    name.push_str(zone.suffix());
    name.push('.');
    name
}

fn push_reversed_v4(name: &mut String, ip: Ipv4Addr) {
    let [a, b, c, d] = ip.octets();
    // Writing to a String cannot fail.
    let _ = write!(name, "{d}.{c}.{b}.{a}.");
}

fn push_reversed_v6(name: &mut String, ip: Ipv6Addr) {
    // Least significant nibble first: the low nibble of the last byte leads.
    for byte in ip.octets().iter().rev() {
        let _ = write!(name, "{:x}.{:x}.", byte & 0x0f, byte >> 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_octets_are_reversed() {
        let zone = Zone::default();
        assert_eq!(
            query_name(ip("127.0.0.2"), &zone),
            "2.0.0.127.zen.spamhaus.org."
        );
        assert_eq!(
            query_name(ip("192.0.2.99"), &zone),
            "99.2.0.192.zen.spamhaus.org."
        );
    }

    #[test]
    fn ipv6_nibbles_are_reversed_as_in_ip6_arpa() {
        let zone = Zone::default();
        assert_eq!(
            query_name(ip("2001:db8::2"), &zone),
            "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org."
        );
        assert_eq!(
            query_name(ip("2001:db8:1234:5678:9abc:def0:1357:9bdf"), &zone),
            "f.d.b.9.7.5.3.1.0.f.e.d.c.b.a.9.8.7.6.5.4.3.2.1.8.b.d.0.1.0.0.2.zen.spamhaus.org."
        );
    }

    #[test]
    fn ipv6_name_has_32_nibbles() {
        let name = query_name(ip("::1"), &Zone::default());
        let labels: Vec<&str> = name.split('.').collect();
        // 32 nibbles + zen + spamhaus + org + the empty root label after the final dot.
        assert_eq!(labels.len(), 32 + 3 + 1);
        assert_eq!(labels[0], "1");
        assert!(labels[1..32].iter().all(|l| *l == "0"));
    }

    #[test]
    fn ipv4_mapped_ipv6_is_asked_as_ipv4() {
        let zone = Zone::default();
        assert_eq!(
            query_name(ip("::ffff:127.0.0.2"), &zone),
            "2.0.0.127.zen.spamhaus.org."
        );
    }

    #[test]
    fn dqs_names_put_the_key_before_the_dqs_zone() {
        let zone = Zone::dqs("mykey123").unwrap();
        assert_eq!(
            query_name(ip("127.0.0.2"), &zone),
            "2.0.0.127.mykey123.zen.dq.spamhaus.net."
        );
        assert!(query_name(ip("2001:db8::2"), &zone).ends_with(".mykey123.zen.dq.spamhaus.net."));
    }

    #[test]
    fn custom_zone() {
        let zone = Zone::standard("bl.example.org.").unwrap();
        assert_eq!(
            query_name(ip("10.1.2.3"), &zone),
            "3.2.1.10.bl.example.org."
        );
    }
}
