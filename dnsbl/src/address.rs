//! IP addresses in the one form secworks stores, queries and shows them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

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
