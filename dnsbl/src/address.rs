//! IP addresses in the one form secworks stores, queries and shows them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// An IPv4 or IPv6 address in canonical form: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`)
/// is the IPv4 address it maps, and the text of an IPv6 address is its RFC 5952 form
/// (`2001:db8::2`). Two addresses are equal exactly when their texts are.
///
/// Parsing accepts what the standard library accepts, and nothing else: dotted-quad IPv4
/// without leading zeros, and IPv6 in any RFC 4291 form without a zone index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(IpAddr);

impl Address {
    /// The address to send a query for.
    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// Parses every entry, or names every entry that is not an address, with its position.
    pub fn parse_all<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<Address>, Vec<InvalidEntry>> {
        let mut valid = Vec::with_capacity(inputs.len());
        let mut invalid = Vec::new();
        for (index, input) in inputs.iter().enumerate() {
            match input.as_ref().parse() {
                Ok(address) => valid.push(address),
                Err(AddressError) => invalid.push(InvalidEntry {
                    index,
                    value: input.as_ref().to_owned(),
                }),
            }
        }
        if invalid.is_empty() {
            Ok(valid)
        } else {
            Err(invalid)
        }
    }
}

impl From<IpAddr> for Address {
    fn from(ip: IpAddr) -> Self {
        Self(ip.to_canonical())
    }
}

impl From<Address> for IpAddr {
    fn from(address: Address) -> Self {
        address.0
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<IpAddr>()
            .map(Address::from)
            .map_err(|_| AddressError)
    }
}

/// The canonical text: what is stored, queried by, and shown.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A CIDR range of addresses in canonical form: the network address with its host bits clear
/// and a prefix length, IPv4 written as IPv4 (an IPv4-mapped IPv6 range is refused, as its
/// addresses are the IPv4 ones). How wide a range may be is the caller's rule: watchlists,
/// `enqueue` and filters each have their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressRange(IpNet);

impl AddressRange {
    /// The range as `ipnet` has it.
    pub fn net(self) -> IpNet {
        self.0
    }

    /// How many addresses it holds; `u128::MAX` for the whole IPv6 space (2^128 does not fit).
    pub fn size(self) -> u128 {
        let host_bits = u32::from(self.0.max_prefix_len() - self.0.prefix_len());
        1u128.checked_shl(host_bits).unwrap_or(u128::MAX)
    }

    /// Whether the prefix is the full length: the range is one address.
    pub fn is_single(self) -> bool {
        self.0.prefix_len() == self.0.max_prefix_len()
    }

    /// The lowest address (the network address).
    pub fn first(self) -> Address {
        Address(self.0.network())
    }

    /// The highest address (the broadcast address, for IPv4).
    pub fn last(self) -> Address {
        Address(self.0.broadcast())
    }

    /// Every address of the range in order, network and broadcast addresses included (a
    /// blocklist may list them like any other).
    pub fn addresses(self) -> Box<dyn Iterator<Item = Address> + Send> {
        match self.0 {
            IpNet::V4(net) => Box::new(
                (u32::from(net.network())..=u32::from(net.broadcast()))
                    .map(|ip| Address(IpAddr::V4(ip.into()))),
            ),
            IpNet::V6(net) => Box::new(
                (u128::from(net.network())..=u128::from(net.broadcast()))
                    .map(|ip| Address(IpAddr::V6(ip.into()))),
            ),
        }
    }
}

impl AddressRange {
    /// The range of one address (a /32 or /128).
    pub fn single(address: Address) -> Self {
        let net = match address.ip() {
            IpAddr::V4(ip) => IpNet::V4(ipnet::Ipv4Net::from(ip)),
            IpAddr::V6(ip) => IpNet::V6(ipnet::Ipv6Net::from(ip)),
        };
        Self(net)
    }

    /// Parses every entry, each an address or a `network/prefix` range, or names every entry
    /// that is neither, with its position and, for a range, what is wrong with it.
    pub fn parse_all<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<AddressRange>, Vec<InvalidRange>> {
        let mut valid = Vec::with_capacity(inputs.len());
        let mut invalid = Vec::new();
        for (index, input) in inputs.iter().enumerate() {
            let text = input.as_ref();
            let parsed = if text.contains('/') {
                text.parse::<AddressRange>().map_err(Some)
            } else {
                text.parse::<Address>().map(Self::single).map_err(|_| None)
            };
            match parsed {
                Ok(range) => valid.push(range),
                Err(problem) => invalid.push(InvalidRange {
                    index,
                    value: text.to_owned(),
                    problem,
                }),
            }
        }
        if invalid.is_empty() {
            Ok(valid)
        } else {
            Err(invalid)
        }
    }
}

/// An entry of a list that is neither an address nor a range of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRange {
    /// Its position in the list, from 0.
    pub index: usize,
    pub value: String,
    /// What is wrong with the range; `None` for text that is not an address at all.
    pub problem: Option<RangeError>,
}

impl FromStr for AddressRange {
    type Err = RangeError;

    /// `network/prefix`. A range with host bits set is refused, naming the range meant.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let net: IpNet = text.parse().map_err(|_| RangeError::NotARange)?;
        if let IpNet::V6(v6) = net
            && v6.network().to_ipv4_mapped().is_some()
        {
            return Err(RangeError::Ipv4Mapped);
        }
        let trunc = net.trunc();
        if trunc != net {
            return Err(RangeError::HostBitsSet(trunc.to_string()));
        }
        Ok(Self(net))
    }
}

/// The canonical text, `network/prefix`.
impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why text is not a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("not a CIDR range (expected e.g. 192.0.2.0/24 or 2001:db8::/120)")]
    NotARange,
    #[error("host bits are set; the range is {0}")]
    HostBitsSet(String),
    #[error("an IPv4-mapped IPv6 range; give the IPv4 range instead")]
    Ipv4Mapped,
}

/// Text that is not an IPv4 or IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an IPv4 or IPv6 address")]
pub struct AddressError;

/// An entry of a list that is not an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEntry {
    /// Its position in the list, from 0.
    pub index: usize,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> Option<String> {
        text.parse::<Address>().ok().map(|a| a.to_string())
    }

    #[test]
    fn ranges_are_canonical_and_say_what_is_wrong() {
        let range = |text: &str| text.parse::<AddressRange>();
        let ok = range("192.0.2.0/30").unwrap();
        assert_eq!(ok.size(), 4);
        assert_eq!(
            ok.addresses().map(|a| a.to_string()).collect::<Vec<_>>(),
            ["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3"]
        );
        assert_eq!(
            (ok.first().to_string(), ok.last().to_string()),
            ("192.0.2.0".into(), "192.0.2.3".into())
        );
        assert_eq!(
            range("2001:DB8::/126").unwrap().to_string(),
            "2001:db8::/126"
        );
        assert_eq!(range("::/0").unwrap().size(), u128::MAX);
        assert_eq!(range("0.0.0.0/0").unwrap().size(), 1 << 32);
        assert_eq!(
            range("192.0.2.1/24"),
            Err(RangeError::HostBitsSet("192.0.2.0/24".into()))
        );
        assert_eq!(range("::ffff:c000:200/120"), Err(RangeError::Ipv4Mapped));
        assert_eq!(range("192.0.2.0/33"), Err(RangeError::NotARange));
        let entries = AddressRange::parse_all(&["192.0.2.7", "2001:db8::/127"]).unwrap();
        assert!(entries[0].is_single());
        assert_eq!(entries[1].size(), 2);
        let bad = AddressRange::parse_all(&["192.0.2.7", "nope", "10.0.0.1/8"]).unwrap_err();
        assert_eq!(bad.len(), 2);
        assert_eq!((bad[0].index, bad[0].problem.clone()), (1, None));
        assert_eq!(
            (bad[1].index, bad[1].problem.clone()),
            (2, Some(RangeError::HostBitsSet("10.0.0.0/8".into())))
        );
    }

    #[test]
    fn canonicalises_ipv4_and_ipv6() {
        assert_eq!(canonical("127.0.0.2").as_deref(), Some("127.0.0.2"));
        assert_eq!(
            canonical("2001:DB8:0:0:0:0:0:2").as_deref(),
            Some("2001:db8::2")
        );
        assert_eq!(canonical("::ffff:192.0.2.1").as_deref(), Some("192.0.2.1"));
        assert_eq!(canonical("::1").as_deref(), Some("::1"));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(Address::from(mapped), "192.0.2.1".parse().unwrap());
        assert_eq!(
            Address::from(mapped).ip(),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in [
            "",
            " 1.2.3.4",
            "1.2.3",
            "256.0.0.1",
            "01.2.3.4",
            "fe80::1%eth0",
            "example.com",
        ] {
            assert_eq!(canonical(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_every_invalid_entry_with_its_position() {
        let input = ["1.1.1.1", "nope", "::1", "1.2.3"];
        assert_eq!(
            Address::parse_all(&input),
            Err(vec![
                InvalidEntry {
                    index: 1,
                    value: "nope".into()
                },
                InvalidEntry {
                    index: 3,
                    value: "1.2.3".into()
                },
            ])
        );
        let good = Address::parse_all(&["::ffff:10.0.0.1", "2001:DB8::1"]).unwrap();
        let texts: Vec<String> = good.iter().map(Address::to_string).collect();
        assert_eq!(texts, ["10.0.0.1", "2001:db8::1"]);
    }
}
