use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use secworks::config::{
    BlocklistArgs, Config, DatabaseArgs, DnsArgs, LogFormat, SECRET_VARIABLES_HELP, ServeArgs,
};
use secworks::{Application, app};

mod admin;
mod blocklist_commands;
mod lookup_command;

/// secworks: looks IP addresses and domains up against DNS blocklists, through an
/// authenticated GraphQL API or once from the command line.
#[derive(Debug, Parser)]
#[command(
    version,
    long_about = None,
    override_usage = "secworks [SERVE OPTIONS]\n       secworks <COMMAND>",
    after_help = TOP_HELP,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The server's settings, for `secworks` without a subcommand; hidden from this command's
    /// help, which stays short (`secworks serve --help` shows them).
    #[command(flatten)]
    serve: ServeArgs,
}

const TOP_HELP: &str = "\
Without a command, secworks runs the server and takes the options of `secworks serve`;
`secworks serve --help` lists them with their environment variables, and
`secworks <COMMAND> --help` explains each command. More: README.md.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    #[command(after_help = SECRET_VARIABLES_HELP)]
    Serve(Box<ServeArgs>),
    /// Look addresses and domains up once; exit 0 if none is listed, 1 if one is, 2 on failure.
    ///
    /// Asks the blocklists directly, without a server or database.
    #[command(after_help = lookup_command::EXIT_CODES_HELP)]
    Lookup(Box<lookup_command::LookupArgs>),
    /// Print the blocklist catalogue; with --check, check the lists' test points.
    ///
    /// One line per list: whether it is enabled, its zone, budget and lookup page.
    Blocklists {
        /// Also check each enabled list's test points now (sends queries).
        #[arg(long)]
        check: bool,
        // Last: a flattened group's heading carries on to the fields after it.
        #[command(flatten)]
        dns: DnsArgs,
        #[command(flatten)]
        lists: BlocklistArgs,
    },
    /// Manage the users who may obtain tokens. Passwords are read from the terminal, or from
    /// the first line of standard input when it is not a terminal; never from arguments.
    User {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        action: admin::UserAction,
    },
    /// Manage tokens: issue, list and revoke service tokens; revoke all of a user's.
    Token {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        action: admin::TokenAction,
    },
    /// Ask the server on this machine whether it is ready; exit 0 if it is.
    ///
    /// Asks GET /readyz at HOST and PORT. For container health checks, which need no HTTP
    /// client in the image.
    Healthcheck {
        /// The address the server listens on; an unspecified one (0.0.0.0, ::) is asked on
        /// loopback (127.0.0.1, ::1).
        #[arg(long, env = "HOST", value_name = "IP", default_value = "127.0.0.1")]
        host: IpAddr,
        /// The server's port.
        #[arg(long, env = "PORT", value_name = "PORT", default_value_t = 5000)]
        port: u16,
    },
    /// Import users and stored results from a pysecworks SQLite database.
    ///
    /// Running it again changes nothing; rows already present are kept as they are. Creates
    /// a missing database (DATABASE_URL), so that it can come before the server's first start.
    ImportPysecworks {
        /// The pysecworks database file (its `app.db`).
        #[arg(value_name = "PATH")]
        source: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn init_logging(format: LogFormat) {
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
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

fn main() -> anyhow::Result<ExitCode> {
    // Before the runtime starts any thread.
    secworks::memory::return_large_blocks();
    secworks::http::server::raise_descriptor_limit();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run())
}

async fn run() -> anyhow::Result<ExitCode> {
    // The server's options are accepted without `serve` but listed only by `serve --help`.
    let command = Cli::command().mut_args(|arg| arg.hide(true));
    let matches = command
        .clone()
        .try_get_matches()
        .unwrap_or_else(|e| name_the_variable(e, &command).exit());
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let command = cli.command.unwrap_or(Command::Serve(Box::new(cli.serve)));
    let format = match &command {
        Command::Serve(args) => args.log_format,
        _ => LogFormat::Text,
    };
    init_logging(format);
    match command {
        Command::Serve(args) => serve(*args).await,
        Command::Lookup(args) => Ok(lookup_command::run(*args).await),
        Command::Blocklists { dns, lists, check } => {
            blocklist_commands::blocklists(&dns, &lists, check).await
        }
        Command::User { database, action } => admin::user(&database, action).await,
        Command::Token { database, action } => admin::token(&database, action).await,
        Command::ImportPysecworks { database, source } => {
            admin::import_pysecworks(&database, &source).await
        }
        Command::Healthcheck { host, port } => healthcheck(host, port).await,
    }
}

/// Adds the environment variable to clap's error about a bad value, which names only the flag:
/// settings mostly come from the environment, and the message must say which one to fix.
fn name_the_variable(mut error: clap::Error, command: &clap::Command) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return error;
    }
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let flag = arg.split_whitespace().next().unwrap_or_default().to_owned();
    let Some(variable) = variable_of(command, flag.trim_start_matches("--")) else {
        return error;
    };
    let tip =
        format!("without {flag}, the value comes from the environment variable {variable}").into();
    let tips = match error.get(ContextKind::Suggested) {
        Some(ContextValue::StyledStrs(tips)) => tips.iter().cloned().chain([tip]).collect(),
        _ => vec![tip],
    };
    error.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    error
}

/// The environment variable of the flag `--long`, in `command` or any of its subcommands (a
/// flag has the same variable wherever it is).
fn variable_of(command: &clap::Command, long: &str) -> Option<String> {
    command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(long))
        .and_then(|arg| arg.get_env())
        .map(|variable| variable.to_string_lossy().into_owned())
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|sub| variable_of(sub, long))
        })
}

/// Where the server listening on `host` and `port` is asked: there, or on loopback of the same
/// family when it listens on every address.
fn health_address(host: IpAddr, port: u16) -> SocketAddr {
    let host = match host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(host, port)
}

async fn healthcheck(host: IpAddr, port: u16) -> anyhow::Result<ExitCode> {
    let address = health_address(host, port);
    let url = format!("http://{address}/readyz");
    let answer = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(3)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent.get(&url).call()?;
        let status = resp.status();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        Ok::<_, ureq::Error>((status, body))
    })
    .await?;
    match answer {
        Ok((status, _)) if status.is_success() => Ok(ExitCode::SUCCESS),
        Ok((status, body)) => {
            eprintln!("not ready ({status}): {body}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("no answer from {address}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_args(args)?;
    let app = Application::build(config)
        .await
        .context("secworks cannot start")?;
    app.run_until(app::shutdown_signal())
        .await
        .context("server failed")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_asks_loopback_for_an_unspecified_address() {
        let asked = |host: &str| health_address(host.parse().unwrap(), 5000).to_string();
        assert_eq!(asked("0.0.0.0"), "127.0.0.1:5000");
        assert_eq!(asked("::"), "[::1]:5000");
        assert_eq!(asked("192.0.2.10"), "192.0.2.10:5000");
        assert_eq!(asked("fe80::1"), "[fe80::1]:5000");
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
