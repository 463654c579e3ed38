//! `secworks lookup` and `secworks blocklists`: asking the blocklists once, and showing the
//! catalogue, without a server or database.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use secworks::blocklists::Blocklists;
use secworks::config::{BlocklistArgs, DnsArgs};
use secworks_dnsbl::{Address, Blocklist, DnsblResolver, Domain, ListKind, ListOutcome, Target};

/// Prints one line per target and list that answers for it: the target, the list, the
/// answer's A records (or `No Response` when not listed) and the decoded listings; or the
/// error. A list whose test points fail prints that for each of its targets instead of an
/// answer. Fails when any entry is neither an address nor a domain, or any lookup failed.
pub async fn lookup(
    dns: &DnsArgs,
    lists: &BlocklistArgs,
    only: Option<&str>,
    inputs: &[String],
) -> anyhow::Result<ExitCode> {
    let targets = parse_targets(inputs)?;
    let blocklists = lists.blocklists(dns)?;
    let chosen: Vec<&Blocklist> = match only {
        Some(ids) => {
            let mut chosen = Vec::new();
            for id in ids.split(',').map(str::trim).filter(|id| !id.is_empty()) {
                let list = blocklists.get(id).with_context(|| {
                    let known: Vec<&str> = blocklists
                        .catalogue()
                        .iter()
                        .map(|l| l.id.as_str())
                        .collect();
                    format!(
                        "--lists: unknown blocklist {id:?}; known: {}",
                        known.join(", ")
                    )
                })?;
                if list.needs_key() && blocklists.key(list).is_none() {
                    anyhow::bail!("--lists: {id} needs an account key: set SECWORKS_DQS_KEY");
                }
                chosen.push(list);
            }
            anyhow::ensure!(!chosen.is_empty(), "--lists: no blocklist named");
            chosen
        }
        None => blocklists.enabled().collect(),
    };
    let resolver = DnsblResolver::new(dns.settings()?)
        .context("cannot set up the DNS resolver (SECWORKS_DNS_SERVER)")?;
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    for list in chosen {
        let fitting: Vec<&Target> = targets
            .iter()
            .filter(|target| Blocklists::fits(list, target))
            .collect();
        if fitting.is_empty() {
            continue;
        }
        // A resolver the list blocks answers NXDOMAIN for everything: never print that as
        // clean.
        let key = blocklists.key(list);
        if let Err(e) = resolver.check_list_test_points(list, key).await.result {
            failed = true;
            for target in fitting {
                writeln!(
                    out,
                    "{target}\t{}\terror: answers not trusted: {e}",
                    list.id
                )?;
            }
            continue;
        }
        for target in fitting {
            let response = resolver.query_list(list, key, target).await;
            match response.result {
                Ok(ListOutcome::NotListed) => writeln!(out, "{target}\t{}\tNo Response", list.id)?,
                Ok(ListOutcome::Listed(listings)) => {
                    let codes: Vec<String> = listings.iter().map(|l| l.code.to_string()).collect();
                    let mut codes = codes;
                    codes.dedup();
                    let names: Vec<String> = listings
                        .iter()
                        .map(|l| format!("{} ({})", l.name, l.code))
                        .collect();
                    write!(
                        out,
                        "{target}\t{}\t{}\t{}",
                        list.id,
                        codes.join(", "),
                        names.join(", ")
                    )?;
                    if let Some(reason) = &response.reason {
                        write!(out, "\t{reason}")?;
                    }
                    writeln!(out)?;
                }
                Err(e) => {
                    failed = true;
                    writeln!(out, "{target}\t{}\terror: {e}", list.id)?;
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Addresses and domains, or an error naming every entry that is neither.
fn parse_targets(inputs: &[String]) -> anyhow::Result<Vec<Target>> {
    let mut targets = Vec::with_capacity(inputs.len());
    let mut bad = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        if let Ok(address) = input.parse::<Address>() {
            targets.push(Target::Ip(address));
            continue;
        }
        match input.parse::<Domain>() {
            Ok(domain) => targets.push(Target::Domain(domain)),
            Err(problem) => bad.push(format!(
                "{input:?} (argument {}): not an IP address, and not a domain: {problem}",
                index + 1
            )),
        }
    }
    anyhow::ensure!(bad.is_empty(), "{}", bad.join("; "));
    Ok(targets)
}

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
