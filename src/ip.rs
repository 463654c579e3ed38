//! Which strings are IP addresses, and the one form each address is stored under.

use std::net::IpAddr;

/// Parses an IPv4 or IPv6 address and returns its canonical text: IPv6 in RFC 5952 form, and
/// an IPv4-mapped IPv6 address as the IPv4 address it maps.
pub fn canonical(input: &str) -> Option<String> {
    let addr: IpAddr = input.parse().ok()?;
    Some(addr.to_canonical().to_string())
}

/// An entry of a list that is not an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEntry {
    pub index: usize,
    pub value: String,
}

/// Canonicalises every entry, or names every entry that is not an address.
pub fn canonical_all(inputs: &[String]) -> Result<Vec<String>, Vec<InvalidEntry>> {
    let mut valid = Vec::with_capacity(inputs.len());
    let mut invalid = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        match canonical(input) {
            Some(addr) => valid.push(addr),
            None => invalid.push(InvalidEntry {
                index,
                value: input.clone(),
            }),
        }
    }
    if invalid.is_empty() {
        Ok(valid)
    } else {
        Err(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_ipv4_and_ipv6() {
        assert_eq!(canonical("127.0.0.2").as_deref(), Some("127.0.0.2"));
        assert_eq!(
            canonical("2001:DB8:0:0:0:0:0:2").as_deref(),
            Some("2001:db8::2")
        );
        assert_eq!(canonical("::ffff:192.0.2.1").as_deref(), Some("192.0.2.1"));
        assert_eq!(canonical("::1").as_deref(), Some("::1"));
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
        let input: Vec<String> = ["1.1.1.1", "nope", "::1", "1.2.3"].map(String::from).into();
        assert_eq!(
            canonical_all(&input),
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
    }
}
