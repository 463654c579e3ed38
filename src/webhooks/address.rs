//! Which webhook URLs and addresses secworks may send to: `http` or `https` with a host, and
//! only global addresses (unless `SECWORKS_WEBHOOK_ALLOW_PRIVATE`), so that a webhook cannot
//! make the server reach into its own network (server-side request forgery).
//!
//! The check is made twice: when a webhook is created, on the URL's address or on every
//! address its host resolves to then; and at each delivery, by the client's resolver
//! ([`super::client`]), on the addresses it resolves and connects to, because a name may
//! resolve elsewhere later (DNS rebinding).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::Uri;

/// The longest webhook URL taken.
pub const MAX_URL_LEN: usize = 2048;

/// Why an address is not global, or `None` when it is: one of the ranges IANA's special-purpose
/// registries mark as not globally reachable (or reserved), named.
pub fn non_global(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_global_v4(v4),
        IpAddr::V6(v6) => non_global_v6(v6),
    }
}

fn non_global_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        () if ip.is_unspecified() || a == 0 => "an unspecified (\"this network\") address",
        () if ip.is_loopback() => "a loopback address",
        () if ip.is_private() => "a private address",
        () if ip.is_link_local() => "a link-local address",
        () if a == 100 && (b & 0xc0) == 64 => "a shared (carrier-grade NAT) address",
        () if a == 192 && b == 0 && c == 0 => "an IETF protocol assignment",
        () if ip.is_documentation() => "a documentation address",
        () if a == 198 && (b & 0xfe) == 18 => "a benchmarking address",
        () if ip.is_broadcast() => "the broadcast address",
        () if ip.is_multicast() => "a multicast address",
        () if a >= 240 => "a reserved address",
        () => return None,
    })
}

fn non_global_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address in IPv6 clothing (mapped, or the NAT64 well-known prefix) reaches that
    // IPv4 address: judged as it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_global_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return non_global_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    Some(match segments {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_unique_local() => "a unique-local address",
        _ if ip.is_unicast_link_local() => "a link-local address",
        [s, ..] if (s & 0xffc0) == 0xfec0 => "a site-local address",
        _ if ip.is_multicast() => "a multicast address",
        [0x100, 0, 0, 0, ..] => "a discard-only address",
        // RFC 8215's local-use NAT64 prefix: translated by a local gateway, never global.
        [0x64, 0xff9b, 1, ..] => "a local-use NAT64 address",
        [0x2001, 0xdb8, ..] => "a documentation address",
        [0x2001, s, ..] if s < 0x200 => "an IETF protocol assignment",
        // 6to4 reaches the IPv4 address it embeds.
        [0x2002, hi, lo, ..] => {
            return non_global_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
        }
        [0, ..] => "a reserved address",
        _ => return None,
    })
}

/// A webhook URL that is well formed: its parts, as the client uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    pub uri: Uri,
    /// The host, without the brackets of an IPv6 literal.
    pub host: String,
    pub port: u16,
}

impl WebhookUrl {
    /// The address the host names, when it is an address literal.
    pub fn literal(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    TooLong(usize),
    Malformed(String),
    Scheme(String),
    NoHost,
    Credentials,
    /// The host is, or resolves to, an address that is not global.
    NotGlobal {
        address: IpAddr,
        reason: &'static str,
    },
    /// The host does not resolve.
    Unresolved {
        host: String,
        error: String,
    },
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong(len) => write!(f, "{len} characters long, at most {MAX_URL_LEN}"),
            Self::Malformed(error) => write!(f, "not a URL ({error})"),
            Self::Scheme(scheme) => write!(f, "scheme `{scheme}` is not http or https"),
            Self::NoHost => f.write_str("has no host"),
            Self::Credentials => f.write_str("must not hold a user name or password"),
            Self::NotGlobal { address, reason } => write!(
                f,
                "{address} is {reason}, and webhooks may only reach global addresses \
                 (SECWORKS_WEBHOOK_ALLOW_PRIVATE=true lifts this)"
            ),
            Self::Unresolved { host, error } => write!(f, "host {host} does not resolve: {error}"),
        }
    }
}

/// Reads a webhook URL: `http` or `https`, a host, no user information.
pub fn parse(text: &str) -> Result<WebhookUrl, UrlProblem> {
    if text.len() > MAX_URL_LEN {
        return Err(UrlProblem::TooLong(text.len()));
    }
    let uri: Uri = text
        .parse()
        .map_err(|e: http::uri::InvalidUri| UrlProblem::Malformed(e.to_string()))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(other) => return Err(UrlProblem::Scheme(other.to_owned())),
        None => return Err(UrlProblem::Malformed("no scheme".to_owned())),
    };
    let authority = uri.authority().ok_or(UrlProblem::NoHost)?;
    if authority.as_str().contains('@') {
        return Err(UrlProblem::Credentials);
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(UrlProblem::NoHost);
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    Ok(WebhookUrl { uri, host, port })
}

/// Checks a URL for a new webhook: well formed and, unless `allow_private`, its address (or
/// every address its host resolves to now) global.
pub async fn check(text: &str, allow_private: bool) -> Result<WebhookUrl, UrlProblem> {
    let url = parse(text)?;
    if allow_private {
        return Ok(url);
    }
    if let Some(ip) = url.literal() {
        return refuse_non_global(ip).map(|()| url);
    }
    let resolved = tokio::net::lookup_host((url.host.as_str(), url.port))
        .await
        .map_err(|e| UrlProblem::Unresolved {
            host: url.host.clone(),
            error: e.to_string(),
        })?;
    for address in resolved {
        refuse_non_global(address.ip())?;
    }
    Ok(url)
}

/// [`UrlProblem::NotGlobal`] for an address that is not global.
pub fn refuse_non_global(ip: IpAddr) -> Result<(), UrlProblem> {
    match non_global(ip) {
        Some(reason) => Err(UrlProblem::NotGlobal {
            address: ip,
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<&'static str> {
        non_global(text.parse().unwrap())
    }

    #[test]
    fn only_global_addresses_pass() {
        for global in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(reason(global), None, "{global}");
        }
        let refused = [
            ("127.0.0.1", "loopback"),
            ("127.8.9.1", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("100::1", "discard"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b:1::808:808", "local-use NAT64"),
            ("2002:7f00:1::", "loopback"),
            ("::127.0.0.1", "reserved"),
        ];
        for (address, kind) in refused {
            let why = reason(address).unwrap_or_else(|| panic!("{address} passed"));
            assert!(why.contains(kind), "{address}: {why}");
        }
    }

    #[test]
    fn urls_are_http_or_https_with_a_host_and_no_credentials() {
        let url = parse("https://Hooks.Example:8443/in?x=1").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("hooks.example", 8443));
        assert_eq!(parse("http://[::1]/").unwrap().host, "::1");
        assert_eq!(
            parse("http://[::1]/").unwrap().literal(),
            Some("::1".parse().unwrap())
        );
        assert_eq!(parse("http://example.com").unwrap().port, 80);
        assert_eq!(
            parse("ftp://example.com/"),
            Err(UrlProblem::Scheme("ftp".into()))
        );
        assert_eq!(
            parse("https://u:p@example.com/"),
            Err(UrlProblem::Credentials)
        );
        assert!(matches!(
            parse("example.com/x"),
            Err(UrlProblem::Malformed(_))
        ));
        assert!(matches!(
            parse("http://exa mple/"),
            Err(UrlProblem::Malformed(_))
        ));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(parse(&long), Err(UrlProblem::TooLong(_))));
    }

    #[tokio::test]
    async fn creation_refuses_non_global_hosts_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/",
            "http://10.0.0.1/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:9/",
        ] {
            let problem = check(url, false).await.unwrap_err();
            assert!(
                matches!(problem, UrlProblem::NotGlobal { .. }),
                "{url}: {problem}"
            );
            assert!(check(url, true).await.is_ok(), "{url}");
        }
        let message = check("http://10.0.0.1/", false)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("10.0.0.1 is a private address"),
            "{message}"
        );
        // A global literal needs no resolution.
        assert!(check("https://93.184.216.34/hook", false).await.is_ok());
    }
}
