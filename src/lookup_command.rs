//! `secworks lookup`: asking the blocklists once about addresses and domains from the
//! arguments, a file or standard input, without a server or database; for people, cron jobs
//! and monitoring checks (the exit code says whether anything is listed).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use futures_util::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use secworks::blocklists::Blocklists;
use secworks::config::{BlocklistArgs, DnsArgs};
use secworks::timestamp;
use secworks_dnsbl::{Address, Blocklist, DnsblResolver, Domain, ListKey, ListOutcome, Target};
use serde::Serialize;

/// Exit codes, in `secworks lookup --help` (and the README).
pub const EXIT_CODES_HELP: &str = "\
Targets come from the arguments and from --file (one per line; `#` starts a comment; `-` reads
standard input). Each line of output is one target and list: tab-separated text, or with --json
one object per line with `status` LISTED, NOT_LISTED or UNKNOWN.

Exit codes:
  0  every list answered, and nothing is listed
  1  something is listed (and every lookup answered)
  2  a lookup failed or a list's test points failed (its results are UNKNOWN, never \"not
     listed\"), or the input or settings are wrong (a bad line: nothing is looked up)";

/// Exit code 1: something is listed.
const LISTED: u8 = 1;
/// Exit code 2: no complete verdict.
const FAILED: u8 = 2;

/// Bad input lines shown before the rest are only counted.
const BAD_LINES_SHOWN: usize = 20;

#[derive(Debug, clap::Args)]
pub struct LookupArgs {
    /// The lists to ask, as catalogue ids separated by commas; default: the enabled ones
    /// (SECWORKS_BLOCKLISTS).
    #[arg(long = "lists", value_name = "ID,...")]
    only: Option<String>,
    /// Also read targets from this file, one per line (`#` starts a comment, blank lines are
    /// skipped); `-` reads standard input.
    #[arg(long, short = 'f', value_name = "PATH")]
    file: Option<PathBuf>,
    /// Print one JSON object per target and list, one per line.
    #[arg(long)]
    json: bool,
    /// Lookups in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    concurrency: u16,
    /// Lookups per second at most, per list (Spamhaus's free use is about 3 per second).
    #[arg(long, env = "SECWORKS_LOOKUP_QPS", value_name = "N")]
    qps: Option<NonZeroU32>,
    /// IPv4 or IPv6 addresses, or domain names.
    #[arg(value_name = "IP_OR_DOMAIN", required_unless_present = "file")]
    targets: Vec<String>,
    // Last: a flattened group's heading carries on to the fields after it.
    #[command(flatten)]
    dns: DnsArgs,
    #[command(flatten)]
    lists: BlocklistArgs,
}

/// Runs the command; any error is reported here and exits 2, never 1 ("listed").
pub async fn run(args: LookupArgs) -> ExitCode {
    match lookup(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:?}");
            ExitCode::from(FAILED)
        }
    }
}

/// A list's answer about one target, as printed.
#[derive(Debug, Serialize)]
struct Row {
    target: String,
    blocklist: String,
    status: Status,
    return_codes: Vec<String>,
    listings: Vec<ShownListing>,
    reason: Option<String>,
    delist_url: Option<String>,
    error: Option<String>,
    /// How the answer was obtained; `None` when no query was sent.
    evidence: Option<Evidence>,
}

/// Spelled as the GraphQL `ListStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Status {
    Listed,
    NotListed,
    Unknown,
}

/// As the GraphQL `Listing`.
#[derive(Debug, Serialize)]
struct ShownListing {
    list: String,
    return_code: String,
    description: String,
}

/// As the GraphQL `Evidence`.
#[derive(Debug, Serialize)]
struct Evidence {
    resolver: String,
    query_name: String,
    rcode: String,
    ttl: Option<u32>,
    test_points_passed: bool,
    answered_at: String,
}

/// Where `--file` targets come from. Input is read twice: once to check every line and count
/// the work (so a bad line stops the run before any query), once to look the targets up. A
/// file is read again from disk, so it is never held in memory; standard input cannot be read
/// again, so its targets are kept.
enum Source {
    File(PathBuf),
    Stdin(Vec<Target>),
}

async fn lookup(args: LookupArgs) -> anyhow::Result<ExitCode> {
    let blocklists = args.lists.blocklists(&args.dns)?;
    let chosen = chosen_lists(&blocklists, args.only.as_deref())?;
    let arguments = parse_arguments(&args.targets)?;

    // First pass: every line checked, and how many lookups each list will make.
    let mut per_list = vec![0u64; chosen.len()];
    let mut count = |target: &Target| {
        for (n, list) in chosen.iter().enumerate() {
            if Blocklists::fits(list, target) {
                per_list[n] += 1;
            }
        }
    };
    arguments.iter().for_each(&mut count);
    let source = match &args.file {
        None => None,
        Some(path) if path.as_os_str() == std::ffi::OsStr::new("-") => {
            let mut targets = Vec::new();
            check_lines(std::io::stdin().lock(), "standard input", |target| {
                count(&target);
                targets.push(target);
            })?;
            Some(Source::Stdin(targets))
        }
        Some(path) => {
            let file = File::open(path)
                .with_context(|| format!("--file: cannot read {}", path.display()))?;
            check_lines(file, &path.display().to_string(), |target| count(&target))?;
            Some(Source::File(path.clone()))
        }
    };

    let resolver = DnsblResolver::new(args.dns.settings()?)
        .context("cannot set up the DNS resolver (SECWORKS_DNS_SERVER)")?;

    // A resolver the list blocks answers NXDOMAIN for everything: a list whose test points
    // fail is not asked, and its results are UNKNOWN, never "not listed".
    let mut untrusted: HashMap<&str, String> = HashMap::new();
    for (list, _) in chosen.iter().zip(&per_list).filter(|(_, n)| **n > 0) {
        if let Err(e) = resolver
            .check_list_test_points(list, blocklists.key(list))
            .await
            .result
        {
            eprintln!(
                "{}: test points failed, so its answers are not trusted and its results are \
                 UNKNOWN: {e}\n  What to do: {}",
                list.id,
                secworks::lookup::test_point_advice(list, &e, blocklists.key(list).is_some())
            );
            untrusted.insert(list.id.as_str(), e.to_string());
        }
    }

    let total: u64 = per_list.iter().sum();
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} lookups, {eta} left",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let limiters: Vec<Option<DefaultDirectRateLimiter>> = chosen
        .iter()
        .map(|_| {
            args.qps
                .map(|qps| RateLimiter::direct(Quota::per_second(qps)))
        })
        .collect();

    // Target by target in input order, each with its lists in order; `buffered` keeps that
    // order in the output while up to `concurrency` lookups are in flight.
    let work = targets_again(arguments, source)?.flat_map(|target| match target {
        Err(e) => vec![Err(e)],
        Ok(target) => {
            let target = Arc::new(target);
            chosen
                .iter()
                .enumerate()
                .filter(|(_, list)| Blocklists::fits(list, &target))
                .map(|(n, list)| Ok((target.clone(), n, *list)))
                .collect()
        }
    });
    let resolver = &resolver;
    let blocklists = &blocklists;
    let untrusted = &untrusted;
    let limiters = &limiters;
    let mut rows = futures_util::stream::iter(work)
        .map(|item| async move {
            let (target, n, list) = item.map_err(|e| anyhow::anyhow!("--file: {e}"))?;
            let target = &*target;
            if let Some(error) = untrusted.get(list.id.as_str()) {
                return Ok(unknown(
                    target,
                    list,
                    format!("answers not trusted: {error}"),
                ));
            }
            if let Some(Some(limiter)) = limiters.get(n) {
                limiter.until_ready().await;
            }
            Ok::<Row, anyhow::Error>(ask(resolver, blocklists.key(list), list, target).await)
        })
        .buffered(usize::from(args.concurrency));

    let mut any_listed = false;
    let mut any_failed = !untrusted.is_empty();
    // Lists that answered "not listed": their test points are checked again at the end.
    let mut answered_not_listed: HashSet<String> = HashSet::new();
    // Lines to a terminal go above the bar; to a file or pipe, straight out, without
    // redrawing the bar for each.
    let out_is_terminal = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    while let Some(row) = rows.next().await {
        let row = row?;
        match row.status {
            Status::Listed => any_listed = true,
            Status::NotListed => {
                if !answered_not_listed.contains(&row.blocklist) {
                    answered_not_listed.insert(row.blocklist.clone());
                }
            }
            Status::Unknown => any_failed = true,
        }
        let line = if args.json {
            serde_json::to_string(&row)?
        } else {
            text_line(&row)
        };
        if out_is_terminal {
            progress.suspend(|| writeln!(out, "{line}"))?;
        } else {
            writeln!(out, "{line}")?;
        }
        progress.inc(1);
    }
    out.flush()?;
    progress.finish_and_clear();
    drop(rows);

    // A resolver that a list starts refusing during a long run answers NXDOMAIN from then on:
    // "not listed" answers are trusted only if the test points still pass after them.
    for list in chosen
        .iter()
        .filter(|list| answered_not_listed.contains(&list.id))
    {
        let key = blocklists.key(list);
        if let Err(e) = resolver.check_list_test_points(list, key).await.result {
            any_failed = true;
            eprintln!(
                "{}: test points failed at the end of the run, so its NOT_LISTED answers above \
                 are not trusted: {e}\n  What to do: {}",
                list.id,
                secworks::lookup::test_point_advice(list, &e, key.is_some())
            );
        }
    }
    Ok(if any_failed {
        ExitCode::from(FAILED)
    } else if any_listed {
        ExitCode::from(LISTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The arguments' targets, then the file's, read again.
fn targets_again(
    arguments: Vec<Target>,
    source: Option<Source>,
) -> anyhow::Result<Box<dyn Iterator<Item = Result<Target, String>>>> {
    let arguments = arguments.into_iter().map(Ok);
    Ok(match source {
        None => Box::new(arguments),
        Some(Source::Stdin(targets)) => Box::new(arguments.chain(targets.into_iter().map(Ok))),
        Some(Source::File(path)) => {
            let file = File::open(&path)
                .with_context(|| format!("--file: cannot read {}", path.display()))?;
            let shown = path.display().to_string();
            let lines = Lines::new(file).enumerate().filter_map(move |(n, line)| {
                let number = n + 1;
                match line.map_err(|e| format!("{shown}: cannot read line {number}: {e}")) {
                    Ok(bytes) => match parse_line(&bytes) {
                        Ok(target) => target.map(Ok),
                        // Changed since it was checked.
                        Err(problem) => Some(Err(format!("{shown}:{number}: {problem}"))),
                    },
                    Err(e) => Some(Err(e)),
                }
            });
            Box::new(arguments.chain(lines))
        }
    })
}

/// The lists named by `--lists`, or the enabled ones.
fn chosen_lists<'a>(
    blocklists: &'a Blocklists,
    only: Option<&str>,
) -> anyhow::Result<Vec<&'a Blocklist>> {
    let Some(ids) = only else {
        let enabled: Vec<&Blocklist> = blocklists.enabled().collect();
        anyhow::ensure!(!enabled.is_empty(), "no blocklist is enabled");
        return Ok(enabled);
    };
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
    Ok(chosen)
}

/// Addresses and domains, or an error naming every argument that is neither.
fn parse_arguments(inputs: &[String]) -> anyhow::Result<Vec<Target>> {
    let mut targets = Vec::with_capacity(inputs.len());
    let mut bad = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        match parse_target(input) {
            Ok(target) => targets.push(target),
            Err(problem) => bad.push(format!("{input:?} (argument {}): {problem}", index + 1)),
        }
    }
    anyhow::ensure!(bad.is_empty(), "{}; nothing was looked up", bad.join("; "));
    Ok(targets)
}

fn parse_target(text: &str) -> Result<Target, String> {
    if let Ok(address) = text.parse::<Address>() {
        return Ok(Target::Ip(address));
    }
    text.parse::<Domain>()
        .map(Target::Domain)
        .map_err(|problem| format!("not an IP address, and not a domain: {problem}"))
}

/// One line of a targets file: `None` for a blank line or a comment.
fn parse_line(bytes: &[u8]) -> Result<Option<Target>, String> {
    let line = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    // No address or domain holds a `#`.
    let text = line.split('#').next().unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.split_whitespace().nth(1).is_some() {
        return Err(format!(
            "{text:?}: more than one entry; put one target on each line"
        ));
    }
    parse_target(text)
        .map(Some)
        .map_err(|problem| format!("{text:?}: {problem}"))
}

/// Checks every line of `reader`, passing each target on; fails naming each bad line (the
/// first [`BAD_LINES_SHOWN`], then how many more).
fn check_lines(reader: impl Read, shown: &str, mut each: impl FnMut(Target)) -> anyhow::Result<()> {
    let mut bad = Vec::new();
    let mut bad_count = 0usize;
    for (n, line) in Lines::new(reader).enumerate() {
        let number = n + 1;
        let bytes = line.with_context(|| format!("--file: cannot read {shown}"))?;
        match parse_line(&bytes) {
            Ok(Some(target)) => each(target),
            Ok(None) => {}
            Err(problem) => {
                bad_count += 1;
                if bad.len() < BAD_LINES_SHOWN {
                    bad.push(format!("  {shown}:{number}: {problem}"));
                }
            }
        }
    }
    if bad_count > 0 {
        let more = bad_count - bad.len();
        if more > 0 {
            bad.push(format!("  and {more} more"));
        }
        anyhow::bail!(
            "--file: {bad_count} bad line{} in {shown}; nothing was looked up:\n{}",
            if bad_count == 1 { "" } else { "s" },
            bad.join("\n")
        );
    }
    Ok(())
}

/// The lines of a reader as bytes, without their line ending; not UTF-8 is the caller's
/// error to name, with its line number.
struct Lines<R> {
    reader: BufReader<R>,
}

impl<R: Read> Lines<R> {
    fn new(reader: R) -> Self {
        Self {
            reader: BufReader::new(reader),
        }
    }
}

impl<R: Read> Iterator for Lines<R> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => None,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                Some(Ok(line))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

async fn ask(
    resolver: &DnsblResolver,
    key: Option<&ListKey>,
    list: &Blocklist,
    target: &Target,
) -> Row {
    let response = resolver.query_list(list, key, target).await;
    let evidence = (!response.evidence.query_name.is_empty()).then(|| Evidence {
        resolver: response.evidence.resolver.to_string(),
        query_name: response.evidence.query_name.clone(),
        rcode: response.evidence.rcode.clone(),
        ttl: response.evidence.ttl,
        test_points_passed: true,
        answered_at: timestamp::format(timestamp::now()),
    });
    let mut row = match response.result {
        Ok(ListOutcome::NotListed) => empty_row(target, list, Status::NotListed),
        Ok(ListOutcome::Listed(listings)) => {
            let mut codes: Vec<String> = listings.iter().map(|l| l.code.to_string()).collect();
            // Bit-mask lists give one listing per bit of the same code.
            codes.dedup();
            Row {
                return_codes: codes,
                listings: listings
                    .into_iter()
                    .map(|l| ShownListing {
                        list: l.name,
                        return_code: l.code.to_string(),
                        description: l.meaning,
                    })
                    .collect(),
                reason: response.reason,
                delist_url: list.lookup_url.clone(),
                ..empty_row(target, list, Status::Listed)
            }
        }
        Err(e) => unknown(target, list, e.to_string()),
    };
    row.evidence = evidence;
    row
}

/// A row with no answer: `error` says why.
fn unknown(target: &Target, list: &Blocklist, error: String) -> Row {
    Row {
        error: Some(error),
        ..empty_row(target, list, Status::Unknown)
    }
}

fn empty_row(target: &Target, list: &Blocklist, status: Status) -> Row {
    Row {
        target: target.to_string(),
        blocklist: list.id.clone(),
        status,
        return_codes: Vec::new(),
        listings: Vec::new(),
        reason: None,
        delist_url: None,
        error: None,
        evidence: None,
    }
}

/// Target, list, then the A records and listings (and the TXT reason), `No Response` (as
/// pysecworks stored "not listed"), or `error: ...`; tab-separated.
fn text_line(row: &Row) -> String {
    let mut line = format!("{}\t{}\t", row.target, row.blocklist);
    match row.status {
        Status::NotListed => line.push_str(secworks_dnsbl::NOT_LISTED_RESPONSE),
        Status::Listed => {
            let names: Vec<String> = row
                .listings
                .iter()
                .map(|l| format!("{} ({})", l.list, l.return_code))
                .collect();
            line.push_str(&format!(
                "{}\t{}",
                row.return_codes.join(", "),
                names.join(", ")
            ));
            if let Some(reason) = &row.reason {
                line.push_str(&format!("\t{reason}"));
            }
        }
        Status::Unknown => {
            line.push_str("error: ");
            line.push_str(row.error.as_deref().unwrap_or("no answer"));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_targets_comments_or_blank() {
        assert!(matches!(parse_line(b"192.0.2.1"), Ok(Some(Target::Ip(_)))));
        assert!(matches!(
            parse_line(b"  example.com\t# our web server\r"),
            Ok(Some(Target::Domain(_)))
        ));
        assert!(matches!(parse_line(b"# a comment"), Ok(None)));
        assert!(matches!(parse_line(b"   \r"), Ok(None)));
        assert!(
            parse_line(b"192.0.2.1 192.0.2.2")
                .unwrap_err()
                .contains("more than one entry")
        );
        assert!(
            parse_line(b"not an address!")
                .unwrap_err()
                .contains("more than one entry")
        );
        assert!(
            parse_line(b"bad_name!")
                .unwrap_err()
                .contains("not an IP address, and not a domain")
        );
        assert_eq!(parse_line(b"\xff\xfe").unwrap_err(), "not UTF-8 text");
    }

    #[test]
    fn lines_keep_a_last_line_without_newline() {
        let lines: Vec<Vec<u8>> = Lines::new(&b"a\r\nb\n\nc"[..])
            .map(Result::unwrap)
            .collect();
        assert_eq!(lines, [&b"a\r"[..], b"b", b"", b"c"]);
    }
}
