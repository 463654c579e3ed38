use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secworks::config::{Config, DnsArgs, SECRET_VARIABLES_HELP, ServeArgs};
use secworks::{Application, app, ip};

/// secworks: look IP addresses up against DNS blocklists through an authenticated GraphQL API.
#[derive(Debug, Parser)]
#[command(version, about, after_help = SECRET_VARIABLES_HELP, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    #[command(after_help = SECRET_VARIABLES_HELP)]
    Serve(ServeArgs),
    /// Look addresses up once and print the results, without a server or database.
    Lookup {
        #[command(flatten)]
        dns: DnsArgs,
        /// IPv4 or IPv6 addresses.
        #[arg(required = true, value_name = "IP")]
        ips: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The DNS library logs query names at debug level, and with a DQS key the name holds the
    // key: keep it at info whatever RUST_LOG asks for.
    let filter = [
        "hickory_net=info",
        "hickory_proto=info",
        "hickory_resolver=info",
    ]
    .into_iter()
    .filter_map(|d| d.parse().ok())
    .fold(filter, |filter, directive| filter.add_directive(directive));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        Some(Command::Lookup { dns, ips }) => return lookup(&dns, &ips).await,
        None => cli.serve,
    };
    let config = Config::from_args(args)?;
    let app = Application::build(config)
        .await
        .context("secworks cannot start")?;
    app.run_until(app::shutdown_signal())
        .await
        .context("server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Prints one line per address: the address, the response code, and the decoded lists; or
/// the error. Fails when any address is invalid or any lookup failed.
async fn lookup(dns: &DnsArgs, inputs: &[String]) -> anyhow::Result<ExitCode> {
    let addresses = ip::canonical_all(inputs).map_err(|bad| {
        let listed: Vec<String> = bad
            .iter()
            .map(|e| format!("{:?} (argument {})", e.value, e.index + 1))
            .collect();
        anyhow::anyhow!("not an IPv4 or IPv6 address: {}", listed.join(", "))
    })?;
    let resolver = secworks_dnsbl::DnsblResolver::new(dns.settings()?)
        .context("cannot set up the DNS resolver (SECWORKS_DNS_SERVER)")?;
    // A resolver the blocklist blocks answers NXDOMAIN for everything: never print that as clean.
    resolver.check_test_points().await.context(
        "the blocklist's answers cannot be trusted (test points 127.0.0.2 and 127.0.0.1)",
    )?;
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    for address in addresses {
        let parsed = address.parse().context("canonical address parses")?;
        match resolver.lookup(parsed).await {
            Ok(outcome) => {
                let lists: Vec<String> = outcome
                    .listings()
                    .iter()
                    .map(|l| format!("{} ({})", l.list, l.code))
                    .collect();
                let lists = if lists.is_empty() {
                    String::new()
                } else {
                    format!("\t{}", lists.join(", "))
                };
                writeln!(out, "{address}\t{}{lists}", outcome.response_code())?;
            }
            Err(e) => {
                failed = true;
                writeln!(out, "{address}\terror: {e}")?;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
