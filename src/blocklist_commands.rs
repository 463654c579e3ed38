//! `secworks blocklists`: the catalogue, and whether the enabled lists' test points pass,
//! without a server or database.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use secworks::config::{BlocklistArgs, DnsArgs};
use secworks_dnsbl::{DnsblResolver, ListKind};

/// Prints the catalogue, one list per line: id, kind, address families, whether it is
/// enabled, its zone, its daily budget and where listings are looked up. With `check`, also
/// checks each enabled list's test points and says whether they pass.
pub async fn blocklists(
    dns: &DnsArgs,
    lists: &BlocklistArgs,
    check: bool,
) -> anyhow::Result<ExitCode> {
    let blocklists = lists.blocklists(dns)?;
    let resolver = if check {
        Some(
            DnsblResolver::new(dns.settings()?)
                .context("cannot set up the DNS resolver (SECWORKS_DNS_SERVER)")?,
        )
    } else {
        None
    };
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    writeln!(out, "id\tkind\tfamilies\tstate\tzone\tdaily budget\tlookup")?;
    for list in blocklists.catalogue() {
        let kind = match list.kind {
            ListKind::Ip => "ip",
            ListKind::Domain => "domain",
        };
        let families = match (list.kind, list.ipv4, list.ipv6) {
            (ListKind::Domain, _, _) => "-",
            (_, true, true) => "ipv4,ipv6",
            (_, true, false) => "ipv4",
            (_, false, true) => "ipv6",
            (_, false, false) => "none",
        };
        let mut state = if blocklists.is_enabled(&list.id) {
            "enabled".to_owned()
        } else if list.needs_key() && blocklists.key(list).is_none() {
            "disabled (needs SECWORKS_DQS_KEY)".to_owned()
        } else {
            "disabled".to_owned()
        };
        if let (Some(resolver), true) = (&resolver, blocklists.is_enabled(&list.id)) {
            match resolver
                .check_list_test_points(list, blocklists.key(list))
                .await
                .result
            {
                Ok(()) => state.push_str(", test points pass"),
                Err(e) => {
                    failed = true;
                    state.push_str(&format!(", test points fail: {e}"));
                    let keyed = blocklists.key(list).is_some();
                    eprintln!(
                        "{}: {}",
                        list.id,
                        secworks::lookup::test_point_advice(list, &e, keyed)
                    );
                }
            }
        }
        let budget = blocklists
            .daily_budget(list)
            .map_or_else(|| "-".to_owned(), |budget| budget.to_string());
        writeln!(
            out,
            "{}\t{kind}\t{families}\t{state}\t{}\t{budget}\t{}",
            list.id,
            blocklists.shown_zone(list),
            list.lookup_url.as_deref().unwrap_or("-"),
        )?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
