use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secworks::config::{
    BlocklistArgs, Config, DatabaseArgs, DnsArgs, LogFormat, SECRET_VARIABLES_HELP, ServeArgs,
};
use secworks::{Application, app};

mod admin;
mod blocklist_commands;

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
    Serve(Box<ServeArgs>),
    /// Look addresses and domains up once against the blocklists and print one line per
    /// target and list, without a server or database.
    Lookup {
        #[command(flatten)]
        dns: DnsArgs,
        #[command(flatten)]
        lists: BlocklistArgs,
        /// The lists to ask, as catalogue ids separated by commas; default: the enabled ones
        /// (SECWORKS_BLOCKLISTS).
        #[arg(long = "lists", value_name = "ID,ID")]
        only: Option<String>,
        /// IPv4 or IPv6 addresses, or domain names.
        #[arg(required = true, value_name = "IP_OR_DOMAIN")]
        targets: Vec<String>,
    },
    /// Print the blocklist catalogue: each list, whether it is enabled, its zone, budget and
    /// lookup page.
    Blocklists {
        #[command(flatten)]
        dns: DnsArgs,
        #[command(flatten)]
        lists: BlocklistArgs,
        /// Also check each enabled list's test points now (sends queries).
        #[arg(long)]
        check: bool,
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
    /// Ask the server on this machine whether it is ready (GET /readyz); exit 0 if it is.
    /// For container health checks, which need no HTTP client in the image.
    Healthcheck {
        /// The server's port.
        #[arg(long, env = "PORT", value_name = "PORT", default_value_t = 5000)]
        port: u16,
    },
    /// Import users and stored results from a pysecworks SQLite database. Running it again
    /// changes nothing; rows already present are kept as they are.
    ImportPysecworks {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The pysecworks database file (its `app.db`).
        #[arg(value_name = "PATH")]
        source: PathBuf,
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
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(Box::new(cli.serve)));
    let format = match &command {
        Command::Serve(args) => args.log_format,
        _ => LogFormat::Text,
    };
    init_logging(format);
    match command {
        Command::Serve(args) => serve(*args).await,
        Command::Lookup {
            dns,
            lists,
            only,
            targets,
        } => blocklist_commands::lookup(&dns, &lists, only.as_deref(), &targets).await,
        Command::Blocklists { dns, lists, check } => {
            blocklist_commands::blocklists(&dns, &lists, check).await
        }
        Command::User { database, action } => admin::user(&database, action).await,
        Command::Token { database, action } => admin::token(&database, action).await,
        Command::ImportPysecworks { database, source } => {
            admin::import_pysecworks(&database, &source).await
        }
        Command::Healthcheck { port } => healthcheck(port).await,
    }
}

async fn healthcheck(port: u16) -> anyhow::Result<ExitCode> {
    let url = format!("http://127.0.0.1:{port}/readyz");
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
            eprintln!("no answer from port {port}: {e}");
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
